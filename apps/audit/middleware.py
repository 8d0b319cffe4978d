"""Records every state-changing call — the v1 API, the legacy facade and the admin — in
the audit log, whatever its outcome.

Who: for the API, DRF authenticates inside the view and its ``Request.user`` setter also
sets ``user`` on the underlying Django request ("so that it is available to any
middleware in the stack"), so after the view ``request.user`` is the ``Principal`` — no
hook in other contexts needed. For the admin it is the Django user.

What changed: the API's request and response bodies (redacted); for the admin, the rows
that changed. Model signals are connected once and act only while a request's audit
scope (a contextvar the middleware opens for admin requests) is open, so saves by
workers, commands or other threads are never attributed to a request.

A failed audit write is logged at error level with everything the entry would have held
and the response still goes out: by then the change is committed, and turning it into a
500 would make the caller retry a call that succeeded (a second account request, a second
token). The log line is the fallback record and the alert.
"""

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from apps.audit.contracts import CLIENT, OPERATOR
from apps.audit.services import entry_record
from apps.clients.contracts import Principal
from apps.kernel.logging import current_request_id

log = structlog.get_logger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Tailor's paths (apps/intake/legacy/urls.py) sit at the root beside v1.
_API_PATH = re.compile(r"^/(v1/|accounts?/?$)")
# Rows that are bookkeeping of the request itself, not an operator's change.
_IGNORED_MODELS = frozenset({"audit.auditentry", "sessions.session", "admin.logentry"})
_TARGET_ID_KEYS = ("id", "requestId", "prefix")


@dataclass
class Scope:
    """The rows changed while one request is being audited."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    snapshots: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)


_scope: ContextVar[Scope | None] = ContextVar("audit_scope", default=None)


@contextmanager
def audit_scope() -> Iterator[Scope]:
    scope = Scope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


# --- Row changes ------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return str(value)


def _fields(instance: models.Model) -> dict[str, Any]:
    return {f.attname: _json_safe(f.value_from_object(instance)) for f in instance._meta.concrete_fields}


def _tracked(sender: type[models.Model]) -> Scope | None:
    scope = _scope.get()
    if scope is None or sender._meta.label_lower in _IGNORED_MODELS:
        return None
    return scope


def _before_save(sender: type[models.Model], instance: models.Model, using: str, **_: Any) -> None:
    scope = _tracked(sender)
    if scope is None or instance.pk is None or instance._state.adding:
        return
    old = sender._base_manager.using(using).filter(pk=instance.pk).first()
    scope.snapshots[(sender._meta.label_lower, str(instance.pk))] = _fields(old) if old is not None else None


def _after_save(sender: type[models.Model], instance: models.Model, created: bool, **_: Any) -> None:
    scope = _tracked(sender)
    if scope is None:
        return
    label, pk = sender._meta.label_lower, str(instance.pk)
    before = None if created else scope.snapshots.pop((label, pk), None)
    after = _fields(instance)
    if before is not None:
        changed = [name for name, value in after.items() if before.get(name) != value]
        if not changed:
            return
        before = {name: before.get(name) for name in changed}
        after = {name: after[name] for name in changed}
    scope.changes.append({"model": label, "pk": pk, "before": before, "after": after})


def _after_delete(sender: type[models.Model], instance: models.Model, **_: Any) -> None:
    scope = _tracked(sender)
    if scope is None:
        return
    scope.changes.append(
        {"model": sender._meta.label_lower, "pk": str(instance.pk), "before": _fields(instance), "after": None}
    )


def connect_model_signals() -> None:
    pre_save.connect(_before_save, dispatch_uid="audit.before_save")
    post_save.connect(_after_save, dispatch_uid="audit.after_save")
    post_delete.connect(_after_delete, dispatch_uid="audit.after_delete")


# --- Who and from where -----------------------------------------------------------------


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.AUDIT_TRUSTED_PROXIES]


def _is_trusted(address: str, proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def source_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR``, unless that is a trusted proxy: then the nearest address in
    ``X-Forwarded-For`` that is not one (anyone can write the header; only our proxies'
    additions are believed)."""
    remote = str(request.META.get("REMOTE_ADDR", "")).strip()
    proxies = _trusted_proxies()
    if remote and _is_trusted(remote, proxies):
        forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
        for hop in reversed([part for part in forwarded if part]):
            if not _is_trusted(hop, proxies):
                remote = hop
                break
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return None


def _actor(request: HttpRequest) -> tuple[str, str]:
    user = getattr(request, "user", None)
    if isinstance(user, Principal):
        return CLIENT, f"{user.name} ({user.client_id})"
    if user is not None and getattr(user, "is_authenticated", False):
        return OPERATOR, str(user.get_username())
    return "", ""


# --- What -------------------------------------------------------------------------------


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


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"unparsed_bytes": len(raw)}


def _request_body(request: HttpRequest) -> Any:
    # Read before the view: Django keeps the bytes, so DRF parses them again unharmed.
    try:
        return _json_or_none(request.body)
    except Exception:  # too large, or a broken stream: the view will answer that
        return {"unreadable": True}


def _response_body(response: HttpResponse) -> Any:
    if response.streaming or "json" not in response.get("Content-Type", ""):
        return None
    return _json_or_none(response.content)


def _api_entry(request: HttpRequest, response: HttpResponse, body: Any) -> dict[str, Any]:
    match = request.resolver_match
    after = _response_body(response)
    route = match.view_name if match else request.path_info
    target_type = (match.url_name or "") if match else ""
    target_type = re.sub(r"-(collection|detail)$", "", target_type)
    target_id = next((str(v) for v in match.kwargs.values()), "") if match else ""
    if not target_id and isinstance(after, dict):
        target_id = next((str(after[key]) for key in _TARGET_ID_KEYS if after.get(key)), "")
    actor_type, actor = _actor(request)
    return {
        "actor_type": actor_type or CLIENT,
        "actor": actor or "anonymous",
        "action": f"{request.method} {route}",
        "target_type": target_type,
        "target_id": target_id,
        "before": body,
        "after": after,
    }


def _admin_entry(request: HttpRequest, scope: Scope, operator: str) -> dict[str, Any]:
    match = request.resolver_match
    _, actor = _actor(request)
    actor = actor or operator
    entry: dict[str, Any] = {
        "actor_type": OPERATOR,
        "actor": actor,
        "target_type": "",
        "target_id": "",
        "before": None,
        "after": scope.changes or None,
    }
    model_admin = getattr(match.func, "model_admin", None) if match else None
    if match is None:
        entry["action"] = f"admin:{request.path_info}"
    elif model_admin is None:
        entry["action"] = f"admin:{match.url_name}"
        if match.url_name == "login":
            # Who tried to log in — never what they typed as the password.
            entry["before"] = {"username": request.POST.get("username", "")}
            entry["actor"] = actor or request.POST.get("username", "")
    else:
        opts = model_admin.model._meta
        operation = (match.url_name or "").removeprefix(f"{opts.app_label}_{opts.model_name}_")
        selected = request.POST.getlist("_selected_action")
        bulk_action = request.POST.get("action") if operation == "changelist" else None
        if bulk_action:
            operation = bulk_action
            entry["before"] = {"action": bulk_action, "selected_ids": selected}
            entry["target_id"] = ",".join(selected)
        else:
            object_id = match.kwargs.get("object_id")
            created = [c["pk"] for c in scope.changes if c["model"] == opts.label_lower and c["before"] is None]
            entry["target_id"] = str(object_id) if object_id else (created[0] if created else "")
        entry["action"] = f"admin:{opts.label_lower}:{operation}"
        entry["target_type"] = opts.label_lower
    return entry


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
            body = _request_body(request)
            response = self.get_response(request)
        else:
            # Who is known before the view too: a logout ends with an anonymous user.
            _, operator = _actor(request)
            with audit_scope() as scope:  # row changes only for the admin: the API has its bodies
                response = self.get_response(request)
        entry: dict[str, Any] = {}
        try:
            entry = _api_entry(request, response, body) if kind == "api" else _admin_entry(request, scope, operator)
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
        return response
