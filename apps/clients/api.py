"""The clients context's public surface."""

from apps.clients.contracts import ALL_SCOPES, IssuedToken, Principal
from apps.clients.services import client_create, token_authenticate

__all__ = ["ALL_SCOPES", "IssuedToken", "Principal", "client_create", "token_authenticate"]
