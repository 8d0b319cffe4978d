"""What an audit entry says of a call: who made it, and what it changed — for the API its
request and response bodies (``entry_record`` redacts them), for the admin the rows that
changed (``row_changes``) and which object or bulk action it was about."""

import json
import re
from typing import Any

from django.http import HttpRequest, HttpResponse

from apps.audit.contracts import CLIENT, OPERATOR
from apps.audit.row_changes import Scope
from apps.clients.contracts import Principal

_TARGET_ID_KEYS = ("id", "requestId", "prefix")


def actor_of(request: HttpRequest) -> tuple[str, str]:
    user = getattr(request, "user", None)
    if isinstance(user, Principal):
        return CLIENT, f"{user.name} ({user.client_id})"
    if user is not None and getattr(user, "is_authenticated", False):
        return OPERATOR, str(user.get_username())
    return "", ""


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"unparsed_bytes": len(raw)}


def request_body(request: HttpRequest) -> Any:
    # Read before the view: Django keeps the bytes, so DRF parses them again unharmed.
    try:
        return _json_or_none(request.body)
    except Exception:  # too large, or a broken stream: the view will answer that
        return {"unreadable": True}


def _response_body(response: HttpResponse) -> Any:
    if response.streaming or "json" not in response.get("Content-Type", ""):
        return None
    return _json_or_none(response.content)


def api_entry(request: HttpRequest, response: HttpResponse, body: Any) -> dict[str, Any]:
    match = request.resolver_match
    after = _response_body(response)
    route = match.view_name if match else request.path_info
    target_type = (match.url_name or "") if match else ""
    target_type = re.sub(r"-(collection|detail)$", "", target_type)
    target_id = next((str(v) for v in match.kwargs.values()), "") if match else ""
    if not target_id and isinstance(after, dict):
        target_id = next((str(after[key]) for key in _TARGET_ID_KEYS if after.get(key)), "")
    actor_type, actor = actor_of(request)
    return {
        "actor_type": actor_type or CLIENT,
        "actor": actor or "anonymous",
        "action": f"{request.method} {route}",
        "target_type": target_type,
        "target_id": target_id,
        "before": body,
        "after": after,
    }


def admin_entry(request: HttpRequest, scope: Scope, operator: str) -> dict[str, Any]:
    match = request.resolver_match
    _, actor = actor_of(request)
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
