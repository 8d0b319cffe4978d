"""The intake context's public surface."""

from apps.intake.contracts import AccountRequested, AccountRequestSummary
from apps.intake.selectors import request_get
from apps.intake.services import RequestStateConflict, request_approve, request_cancel, request_reject, request_retry

__all__ = [
    "AccountRequestSummary",
    "AccountRequested",
    "RequestStateConflict",
    "request_approve",
    "request_cancel",
    "request_get",
    "request_reject",
    "request_retry",
]
