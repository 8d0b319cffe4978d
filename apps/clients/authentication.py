from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.clients.contracts import Principal
from apps.clients.services import TokenExpired, token_authenticate


class TokenExpiredFailure(exceptions.AuthenticationFailed):
    default_detail = "The token has expired; ask for a new one."
    default_code = "token_expired"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``. A missing header is anonymous (then 401 from the
    permission check); a malformed, unknown or expired token is 401 at once."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, str] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <token>'.")
        try:
            principal = token_authenticate(token=parts[1])
        except TokenExpired as expired:
            raise TokenExpiredFailure(str(expired)) from expired
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return principal, parts[1]

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="bespoke"'
