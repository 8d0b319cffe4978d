"""What other contexts know about API clients: scopes, payer grants and the authenticated
principal."""

from dataclasses import dataclass, field
from datetime import datetime

from apps.kernel.contracts import Actor
from apps.kernel.errors import Forbidden

REQUESTS_READ = "requests:read"
REQUESTS_WRITE = "requests:write"
ACCOUNTS_READ = "accounts:read"
ACCOUNTS_ADMIN = "accounts:admin"
WEBHOOKS_ADMIN = "webhooks:admin"
OPERATIONS_ADMIN = "operations:admin"
METRICS_READ = "metrics:read"

ALL_SCOPES: tuple[str, ...] = (
    REQUESTS_READ,
    REQUESTS_WRITE,
    ACCOUNTS_READ,
    ACCOUNTS_ADMIN,
    WEBHOOKS_ADMIN,
    OPERATIONS_ADMIN,
    METRICS_READ,
)


class PayerNotGranted(Forbidden):
    """A client asked to act on a payer (or an environment of it) it was not granted."""

    code = "payer_not_granted"


@dataclass(frozen=True)
class PayerGrant:
    """A payer a client may act on, optionally narrowed to some of its environments."""

    payer: str
    environments: tuple[str, ...] = ()  # empty: every environment of the payer

    def covers(self, environment: str | None) -> bool:
        """``environment`` None asks about the payer as a whole (any of its environments)."""
        return not self.environments or environment is None or environment in self.environments


@dataclass(frozen=True)
class Access:
    """The payers (and environments) a client's requests and accounts live in.

    ``all_payers`` is for operators' clients only: every payer, present and future.
    """

    all_payers: bool = False
    grants: tuple[PayerGrant, ...] = ()

    def grant_for(self, payer: str) -> PayerGrant | None:
        return next((grant for grant in self.grants if grant.payer == payer), None)

    def covers(self, payer: str, environment: str | None = None) -> bool:
        """May the client act on ``payer`` (in ``environment``; None: the payer at all)?"""
        if self.all_payers:
            return True
        grant = self.grant_for(payer)
        return grant is not None and grant.covers(environment)

    def require(self, payer: str, environment: str | None = None) -> None:
        """Refuse (403 ``payer_not_granted``) unless the client may act on ``payer``/``environment``."""
        if self.covers(payer, environment):
            return
        if environment is not None and self.covers(payer):
            raise PayerNotGranted(
                f"This client is not granted the environment {environment!r} of payer {payer!r}.",
                extra={"payer": payer, "environment": environment},
            )
        raise PayerNotGranted(f"This client is not granted the payer {payer!r}.", extra={"payer": payer})

    def payer_names(self) -> tuple[str, ...]:
        return tuple(sorted(grant.payer for grant in self.grants))


@dataclass(frozen=True)
class Principal:
    """The API client behind a request. DRF sees it as ``request.user``.

    ``scopes`` are the token's (always a subset of its client's); ``access`` is the
    client's payer grants.
    """

    client_id: str
    name: str
    scopes: frozenset[str]
    token_prefix: str = ""  # the token this request came with
    access: Access = field(default_factory=Access)
    token_expires_at: datetime | None = None

    is_authenticated = True
    is_anonymous = False

    def has_scopes(self, *required: str) -> bool:
        return set(required) <= self.scopes

    @property
    def is_operator(self) -> bool:
        """Operators see every client's requests within their access, and approve."""
        return OPERATIONS_ADMIN in self.scopes

    @property
    def is_global_operator(self) -> bool:
        """An operator of every payer: may read what no payer owns (dead letters, the audit log)."""
        return self.is_operator and self.access.all_payers

    @property
    def actor(self) -> Actor:
        """Who acted, as recorded on what it asked for (four eyes compares identities)."""
        return Actor(kind="client", id=self.client_id, name=self.name)


@dataclass(frozen=True)
class TokenSummary:
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    client_name: str
    token: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None

    @property
    def prefix(self) -> str:
        return self.token.split("_", 2)[1]


@dataclass(frozen=True)
class ClientSummary:
    id: str
    name: str
    scopes: tuple[str, ...]
    access: Access
    active: bool
