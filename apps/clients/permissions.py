from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from apps.clients.contracts import Principal


class HasRequiredScopes(permissions.BasePermission):
    """Every view declares ``required_scopes`` (per method, or one tuple for all);
    the token's client must carry all of them."""

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
        return True
