"""The intake context's public surface."""

from apps.intake.contracts import AccountRequested, AccountRequestSummary, RequestActivity
from apps.intake.selectors import request_activity, request_created_times, request_get, requests_find
from apps.intake.services import RequestStateConflict, request_approve, request_cancel, request_reject, request_retry

__all__ = [
    "AccountRequestSummary",
    "AccountRequested",
    "RequestActivity",
    "RequestStateConflict",
    "request_activity",
    "request_approve",
    "request_cancel",
    "request_created_times",
    "request_get",
    "request_reject",
    "request_retry",
    "requests_find",
]

# Unscoped, for routing events by tenant (notifications): never serve a caller with it.
from apps.intake.selectors import request_get_unscoped

__all__ += ["request_get_unscoped"]

# The legacy facade's answer to any path Tailor did not have (project/urls.py routes to it).
from apps.intake.legacy.errors import legacy_not_found  # noqa: E402

__all__ += ["legacy_not_found"]
