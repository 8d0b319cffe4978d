"""The accounts context's public surface."""

from apps.accounts.contracts import AccountSummary, PayerSummary
from apps.accounts.selectors import account_email, account_for_request, account_name, payer_get
from apps.accounts.services import payer_upsert

__all__ = [
    "AccountSummary",
    "PayerSummary",
    "account_email",
    "account_for_request",
    "account_name",
    "payer_get",
    "payer_upsert",
]
