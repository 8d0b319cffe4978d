"""Records every state-changing call — the v1 API, the legacy facade and the admin — in
the audit log, whatever its outcome.

Who: for the API, DRF authenticates inside the view and its ``Request.user`` setter also
sets ``user`` on the underlying Django request ("so that it is available to any
middleware in the stack"), so after the view ``request.user`` is the ``Principal`` — no
hook in other contexts needed. For the admin it is the Django user.

What changed: the API's request and response bodies (redacted); for the admin, the rows
that changed, seen by model signals while the middleware holds the request's audit scope
open (``row_changes``). What the entry says is ``capture``'s; where the call came from,
``client_ip``'s.

A view that sets ``audit_in_request_transaction`` (the account-request ``POST``) runs in
a transaction that also holds its audit entry: the change and its entry commit together,
in one commit instead of two. Should that transaction be rolled back, the entry is
written on its own after it, as for any other call.

A failed audit write is logged at error level with everything the entry would have held
and the response still goes out: by then the change is committed, and turning it into a
500 would make the caller retry a call that succeeded (a second account request, a second
token). The log line is the fallback record and the alert.
"""

import re
from collections.abc import Callable
from typing import Any

import structlog
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from apps.audit.capture import actor_of, admin_entry, api_entry, request_body
from apps.audit.client_ip import source_ip
from apps.audit.row_changes import Scope, audit_scope
from apps.audit.services import entry_record
from apps.kernel.logging import current_request_id

log = structlog.get_logger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Tailor's paths (apps/intake/legacy/urls.py) sit at the root beside v1.
_API_PATH = re.compile(
    r"^/(v1/|accounts?/?$|(vpcflowlogs|vpcdns|configrules)/?$|(cloudtrail|config|cloudability)/[^/]+/?$)"
)


def _admin_prefix() -> str | None:
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return None


def _kind(request: HttpRequest) -> str | None:
    if request.method not in MUTATING_METHODS:
        return None
    if _API_PATH.match(request.path_info):
        return "api"
    prefix = _admin_prefix()
    if prefix and request.path_info.startswith(prefix):
        return "admin"
    return None


def _in_request_transaction(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return bool(getattr(view_class, "audit_in_request_transaction", False))


class AuditMiddleware:
    """Sits after authentication and ``RequestIdMiddleware`` so the request id is bound."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kind = _kind(request)
        if kind is None:
            return self.get_response(request)
        body: Any = None
        scope, operator = Scope(), ""
        if kind == "api":
            body = request_body(request)
            if _in_request_transaction(request):
                with transaction.atomic():
                    response = self.get_response(request)
                    if not transaction.get_rollback():
                        self._record(request, response, kind, body, scope, operator)
                        return response
                self._record(request, response, kind, body, scope, operator)
                return response
            response = self.get_response(request)
        else:
            # Who is known before the view too: a logout ends with an anonymous user.
            _, operator = actor_of(request)
            with audit_scope() as scope:  # row changes only for the admin: the API has its bodies
                response = self.get_response(request)
        self._record(request, response, kind, body, scope, operator)
        return response

    def _record(
        self, request: HttpRequest, response: HttpResponse, kind: str, body: Any, scope: Scope, operator: str
    ) -> None:
        entry: dict[str, Any] = {}
        try:
            entry = api_entry(request, response, body) if kind == "api" else admin_entry(request, scope, operator)
            entry_record(
                **entry,
                source_ip=source_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                request_id=current_request_id() or "",
                status_code=response.status_code,
            )
        except Exception:
            log.exception(
                "audit.write_failed",
                path=request.path_info,
                method=request.method,
                status_code=response.status_code,
                actor=entry.get("actor"),
                action=entry.get("action"),
                target_id=entry.get("target_id"),
            )
