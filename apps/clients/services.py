import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction

from apps.clients.contracts import ALL_SCOPES, IssuedToken, Principal, TokenSummary
from apps.clients.models import ApiClient, ApiToken
from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, NotFound

TOKEN_PREFIX = "bsp"  # noqa: S105  (a public marker, not a secret)
# Recording every use would make each API call a write; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnknownScope(ApplicationError):
    code = "unknown_scope"


def _digest(token: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is safe: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def _validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise UnknownScope(f"Unknown scopes: {', '.join(unknown)}.", extra={"known": list(ALL_SCOPES)})
    return sorted(set(scopes))


@transaction.atomic
def client_create(*, name: str, scopes: list[str]) -> IssuedToken:
    """Create a client and its first token. The token is returned once and never stored."""
    client = ApiClient.objects.create(
        id=ids.new_id(), name=name, scopes=_validate_scopes(scopes), created_at=clock.now()
    )
    return token_issue(client=client)


def token_issue(*, client: ApiClient) -> IssuedToken:
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    ApiToken.objects.create(
        id=ids.new_id(), client=client, prefix=prefix, digest=_digest(token), created_at=clock.now()
    )
    return IssuedToken(client_id=client.id, client_name=client.name, token=token, scopes=tuple(client.scopes))


def token_authenticate(*, token: str) -> Principal | None:
    """The principal a token belongs to, or None if it is unknown, revoked or inactive."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    stored = ApiToken.objects.select_related("client").filter(prefix=parts[1]).first()
    if stored is None or stored.revoked_at is not None or not stored.client.active:
        return None
    if not hmac.compare_digest(stored.digest, _digest(token)):
        return None
    now = clock.now()
    if stored.last_used_at is None or now - stored.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=stored.pk).update(last_used_at=now)
    client = stored.client
    return Principal(client_id=client.id, name=client.name, scopes=frozenset(client.scopes), token_prefix=stored.prefix)


def token_list(*, client_id: str) -> list[TokenSummary]:
    return [
        TokenSummary(prefix=t.prefix, created_at=t.created_at, last_used_at=t.last_used_at, revoked_at=t.revoked_at)
        for t in ApiToken.objects.filter(client_id=client_id).order_by("-created_at")
    ]


@transaction.atomic
def token_revoke(*, client_id: str, prefix: str) -> None:
    """Revoke one of the client's tokens (idempotent); an unknown prefix is NotFound."""
    token = ApiToken.objects.select_for_update().filter(client_id=client_id, prefix=prefix).first()
    if token is None:
        raise NotFound(f"No token {prefix} for this client.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])


@transaction.atomic
def token_rotate(*, client_id: str, current_prefix: str) -> IssuedToken:
    """A new token for the client; the one the call came with is revoked."""
    client = ApiClient.objects.get(id=client_id)
    issued = token_issue(client=client)
    token_revoke(client_id=client_id, prefix=current_prefix)
    return issued
