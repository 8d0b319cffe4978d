from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from apps.clients.contracts import Principal
from apps.kernel.errors import Forbidden


class AllPayersRequired(Forbidden):
    """The records behind this endpoint belong to no one payer (dead letters, the audit
    log): only an operator of every payer may reach them."""

    code = "all_payers_required"


class HasRequiredScopes(permissions.BasePermission):
    """Every view declares ``required_scopes`` (per method, or one tuple for all);
    the token must carry all of them. A view that sets ``requires_all_payers`` is also
    refused to clients not granted every payer."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            raise exceptions.NotAuthenticated()
        required = getattr(view, "required_scopes", None)
        if isinstance(required, dict):
            required = required.get(request.method or "", ())
        if required is None:  # an empty tuple means "any authenticated client"
            raise exceptions.PermissionDenied("This endpoint declares no scope.")
        if not principal.has_scopes(*required):
            missing = sorted(set(required) - principal.scopes)
            raise exceptions.PermissionDenied(f"This token lacks the scope(s): {', '.join(missing)}.")
        if getattr(view, "requires_all_payers", False) and not principal.access.all_payers:
            raise AllPayersRequired(
                "What this endpoint serves belongs to no one payer: it needs a client granted every payer."
            )
        return True
