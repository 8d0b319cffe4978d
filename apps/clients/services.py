"""API clients, their payer grants and their tokens.

A token carries its own scopes (a subset of its client's) and an expiry. A token can
mint only tokens with a subset of its scopes that expire no later than itself, and can
revoke only itself unless it holds ``operations:admin``: a leaked token cannot outlive
its own revocation or expiry by minting successors.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from apps.clients.contracts import (
    ALL_SCOPES,
    METRICS_READ,
    OPERATIONS_ADMIN,
    Access,
    ClientSummary,
    IssuedToken,
    PayerGrant,
    Principal,
    TokenSummary,
)
from apps.clients.models import ApiClient, ApiToken
from apps.clients.models import PayerGrant as PayerGrantRow
from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, NotFound
from apps.kernel.ttlcache import TtlCache

TOKEN_PREFIX = "bsp"  # noqa: S105  (a public marker, not a secret)
# Recording every use would make each API call a write; once a minute is plenty (seen when
# the cached principal is loaded again, so at most API_TOKEN_CACHE_SECONDS later).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnknownScope(ApplicationError):
    code = "unknown_scope"


class InvalidGrant(ApplicationError):
    code = "invalid_grant"


class TokenScopeExceeded(ApplicationError):
    """A token asked to mint a token with more than it holds."""

    code = "token_scope_exceeded"
    status_code = 403


class TokenExpiryExceeded(ApplicationError):
    code = "token_expiry_exceeded"
    status_code = 403


class TokenRevokeForbidden(ApplicationError):
    code = "token_revoke_forbidden"
    status_code = 403


class TokenExpired(Exception):
    """The token is known and was valid, but its time is up."""


def _digest(token: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is safe: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def default_token_lifetime() -> timedelta:
    return timedelta(days=int(getattr(settings, "API_TOKEN_TTL_DAYS", 90)))


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(scopes)
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise UnknownScope(f"Unknown scopes: {', '.join(unknown)}.", extra={"known": list(ALL_SCOPES)})
    return sorted(set(scopes))


def parse_grant(text: str) -> PayerGrant:
    """``payer`` or ``payer:env1,env2`` (the command line's and the admin's spelling)."""
    payer, _, environments = text.partition(":")
    payer = payer.strip()
    if not payer:
        raise InvalidGrant(f"Not a payer grant: {text!r} (use PAYER or PAYER:ENV,ENV).")
    envs = tuple(sorted({env.strip() for env in environments.split(",") if env.strip()}))
    return PayerGrant(payer=payer, environments=envs)


# Said the same by the API, the command line and the admin.
ALL_PAYERS_NEEDS_OPERATOR = (
    f"Every payer (all_payers) is only for clients with the {OPERATIONS_ADMIN} scope "
    f"(or a metrics scraper with {METRICS_READ} alone)."
)
NO_PAYER_GRANTED = f"Grant at least one payer (or every payer, for an {OPERATIONS_ADMIN} client)."


def _validate_access(*, scopes: Sequence[str], grants: Sequence[PayerGrant], all_payers: bool) -> None:
    if all_payers and OPERATIONS_ADMIN not in scopes and set(scopes) != {METRICS_READ}:
        raise InvalidGrant(ALL_PAYERS_NEEDS_OPERATOR)
    if not all_payers and not grants:
        raise InvalidGrant(NO_PAYER_GRANTED)
    names = [grant.payer for grant in grants]
    if len(names) != len(set(names)):
        raise InvalidGrant("Each payer can be granted once.")


def access_of(client: ApiClient) -> Access:
    grants = tuple(
        PayerGrant(payer=row.payer, environments=tuple(row.environments or ()))
        for row in sorted(client.grants.all(), key=lambda row: row.payer)
    )
    return Access(all_payers=client.all_payers, grants=grants)


@transaction.atomic
def client_create(
    *,
    name: str,
    scopes: Sequence[str],
    payers: Sequence[PayerGrant | str] = (),
    all_payers: bool = False,
    token_lifetime: timedelta | None = None,
) -> IssuedToken:
    """Create a client, its payer grants and its first token (returned once, never stored)."""
    valid_scopes = _validate_scopes(scopes)
    grants = [parse_grant(grant) if isinstance(grant, str) else grant for grant in payers]
    _validate_access(scopes=valid_scopes, grants=grants, all_payers=all_payers)
    client = ApiClient.objects.create(
        id=ids.new_id(), name=name, scopes=valid_scopes, all_payers=all_payers, created_at=clock.now()
    )
    for grant in grants:
        PayerGrantRow.objects.create(client=client, payer=grant.payer, environments=list(grant.environments))
    return token_issue(client=client, lifetime=token_lifetime, issued_by="client_create")


def token_issue(
    *,
    client: ApiClient,
    scopes: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    lifetime: timedelta | None = None,
    issued_by: str = "",
) -> IssuedToken:
    """A new token of ``client`` with ``scopes`` (default: the client's) expiring at
    ``expires_at`` (default: now + ``lifetime`` or ``API_TOKEN_TTL_DAYS``)."""
    chosen = sorted(set(client.scopes if scopes is None else scopes) & set(client.scopes))
    expiry = expires_at or clock.now() + (lifetime or default_token_lifetime())
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    ApiToken.objects.create(
        id=ids.new_id(),
        client=client,
        prefix=prefix,
        digest=_digest(token),
        scopes=chosen,
        created_at=clock.now(),
        expires_at=expiry,
        issued_by=issued_by[:160],
    )
    return IssuedToken(
        client_id=client.id, client_name=client.name, token=token, scopes=tuple(chosen), expires_at=expiry
    )


def _token_cache_seconds() -> float:
    return float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 5))


# Principals by token digest, so a hit is as good as the digest check. A revoked token, a
# deactivated client, a grant or scope taken away: cleared at once in the process that
# made the change (the model signals, connected in apps.py), elsewhere within the TTL.
_principals: TtlCache[Principal] = TtlCache(ttl=_token_cache_seconds)


def principals_forget(*_args: object, **_kwargs: object) -> None:
    """Forget every cached principal (a signal receiver: a token, client or grant changed)."""
    _principals.clear()


def token_authenticate(*, token: str) -> Principal | None:
    """The principal a token belongs to, or None if it is unknown, revoked or inactive.
    Raises ``TokenExpired`` for a genuine token past its expiry.

    Cached for ``API_TOKEN_CACHE_SECONDS``: a token revoked (or its client deactivated,
    a grant removed) in another process stops working within that time."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    digest = _digest(token)
    principal = _principals.get(digest, lambda: _principal_load(prefix=parts[1], digest=digest))
    if principal is None:
        return None
    if principal.token_expires_at is not None and principal.token_expires_at <= clock.now():
        raise TokenExpired(f"Token {principal.token_prefix} expired at {principal.token_expires_at.isoformat()}.")
    return principal


def _principal_load(*, prefix: str, digest: str) -> Principal | None:
    stored = ApiToken.objects.select_related("client").filter(prefix=prefix).first()
    if stored is None or stored.revoked_at is not None or not stored.client.active:
        return None
    if not hmac.compare_digest(stored.digest, digest):
        return None
    now = clock.now()
    if stored.expires_at > now and (stored.last_used_at is None or now - stored.last_used_at >= LAST_USED_RESOLUTION):
        ApiToken.objects.filter(pk=stored.pk).update(last_used_at=now)
    client = stored.client
    return Principal(
        client_id=client.id,
        name=client.name,
        # A client whose scopes were narrowed after the token was issued keeps only what both hold.
        scopes=frozenset(stored.scopes) & frozenset(client.scopes),
        token_prefix=stored.prefix,
        access=access_of(client),
        token_expires_at=stored.expires_at,
    )


def token_list(*, client_id: str) -> list[TokenSummary]:
    return [
        TokenSummary(
            prefix=t.prefix,
            scopes=tuple(t.scopes),
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
        for t in ApiToken.objects.filter(client_id=client_id).order_by("-created_at")
    ]


def token_mint(
    *, principal: Principal, scopes: Sequence[str] | None = None, expires_at: datetime | None = None
) -> IssuedToken:
    """A token minted by the token in use: at most its scopes, expiring no later than it."""
    wanted = set(principal.scopes if scopes is None else _validate_scopes(scopes))
    beyond = sorted(wanted - principal.scopes)
    if beyond:
        raise TokenScopeExceeded(
            f"A token can only mint tokens with scopes it holds; not: {', '.join(beyond)}.",
            extra={"scopes": sorted(principal.scopes)},
        )
    ceiling = principal.token_expires_at
    if expires_at is None:
        default = clock.now() + default_token_lifetime()
        expires_at = min(default, ceiling) if ceiling else default
    elif expires_at <= clock.now():
        raise TokenExpiryExceeded("expires_at must be in the future.")
    elif ceiling is not None and expires_at > ceiling:
        raise TokenExpiryExceeded(
            "A token can only mint tokens that expire no later than itself.",
            extra={"latest": ceiling.isoformat()},
        )
    client = ApiClient.objects.get(id=principal.client_id)
    return token_issue(client=client, scopes=sorted(wanted), expires_at=expires_at, issued_by=principal.token_prefix)


@transaction.atomic
def token_revoke(*, principal: Principal, prefix: str) -> None:
    """Revoke a token of the principal's client (idempotent). Without ``operations:admin``
    a token may revoke only itself; an unknown prefix is NotFound."""
    token = ApiToken.objects.select_for_update().filter(client_id=principal.client_id, prefix=prefix).first()
    if token is None:
        raise NotFound(f"No token {prefix} for this client.")
    if prefix != principal.token_prefix and not principal.is_operator:
        raise TokenRevokeForbidden(
            "A token can revoke only itself; revoking another token needs the operations:admin scope."
        )
    _revoke(token)


def _revoke(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])


@transaction.atomic
def token_rotate(*, principal: Principal) -> IssuedToken:
    """A new token with the same scopes and expiry replaces the one in use, revoked now."""
    issued = token_mint(principal=principal, expires_at=principal.token_expires_at)
    current = ApiToken.objects.select_for_update().get(client_id=principal.client_id, prefix=principal.token_prefix)
    _revoke(current)
    return issued


def client_get(*, client_id: str) -> ClientSummary | None:
    client = ApiClient.objects.prefetch_related("grants").filter(id=client_id).first()
    if client is None:
        return None
    return ClientSummary(
        id=client.id, name=client.name, scopes=tuple(client.scopes), access=access_of(client), active=client.active
    )


def client_access(*, client_id: str) -> Access:
    """The client's payer grants (no access at all for an unknown client)."""
    summary = client_get(client_id=client_id)
    return summary.access if summary else Access()
