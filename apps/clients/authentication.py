from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.clients import keys, sigv4
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


MISSING_TOKEN = ("MissingAuthenticationTokenException", "Missing Authentication Token")


class GatewayRefusal(exceptions.AuthenticationFailed):
    """A legacy caller refused as API Gateway refuses it: 403 with ``{"message": …}`` and
    ``x-amzn-ErrorType`` naming the reason (``kind``)."""

    def __init__(self, kind: str, message: str, *, key: str = "message") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.key = key


def _lambda_caller_arn(request: Request) -> str:
    """The caller's IAM ARN that API Gateway's IAM authorization put in the request context
    (Zappa hands the Lambda event to Django as ``lambda.event``; nothing a caller sends
    can set it)."""
    event = request.META.get("lambda.event")
    if not isinstance(event, dict):
        return ""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    arn = identity.get("userArn") if isinstance(identity, dict) else None
    return arn if isinstance(arn, str) else ""


class LegacyAuthentication(authentication.BaseAuthentication):
    """Who calls the legacy paths: behind API Gateway's IAM authorization, the client that
    lists the caller's IAM ARN; otherwise a request signed with SigV4 (``execute-api``,
    any region) with a client's access key pair, or a Bespoke bearer token. No credentials
    at all is anonymous (then API Gateway's ``Missing Authentication Token``)."""

    def authenticate(self, request: Request) -> tuple[Principal, str] | None:
        arn = _lambda_caller_arn(request)
        if arn:
            principal = keys.iam_principal_authenticate(arn=arn)
            if principal is None:
                raise GatewayRefusal(
                    "AccessDeniedException",
                    f"User: {arn} is not authorized to perform: execute-api:Invoke on resource: {request.path}",
                    key="Message",
                )
            return principal, arn
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        if header.split(" ", 1)[0].lower() == BearerTokenAuthentication.keyword.lower():
            try:
                found = BearerTokenAuthentication().authenticate(request)
            except TokenExpiredFailure as error:
                raise GatewayRefusal(
                    "ExpiredTokenException", "The security token included in the request is expired"
                ) from error
            except exceptions.AuthenticationFailed as error:
                raise GatewayRefusal(sigv4.UNRECOGNIZED_CLIENT, sigv4.INVALID_KEY) from error
            return found
        if not sigv4.is_signed(header):
            raise GatewayRefusal(
                sigv4.INCOMPLETE,
                f"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
                f"parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header "
                f"requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header[:64]}",
            )
        signed = sigv4.SignedRequest(
            method=request.method or "GET",
            path=request.path,
            query_string=request.META.get("QUERY_STRING", ""),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.body,
        )
        try:
            principal = keys.sigv4_authenticate(signed)
        except sigv4.SignatureError as error:
            raise GatewayRefusal(error.kind, error.message) from error
        return principal, principal.token_prefix
