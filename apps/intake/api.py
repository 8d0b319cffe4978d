"""The intake context's public surface."""

from apps.intake.contracts import AccountRequested, AccountRequestSummary
from apps.intake.selectors import request_get

__all__ = ["AccountRequestSummary", "AccountRequested", "request_get"]
