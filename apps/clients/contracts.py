"""What other contexts know about API clients: scopes and the authenticated principal."""

from dataclasses import dataclass
from datetime import datetime

REQUESTS_READ = "requests:read"
REQUESTS_WRITE = "requests:write"
ACCOUNTS_READ = "accounts:read"
ACCOUNTS_ADMIN = "accounts:admin"
WEBHOOKS_ADMIN = "webhooks:admin"
OPERATIONS_ADMIN = "operations:admin"

ALL_SCOPES: tuple[str, ...] = (
    REQUESTS_READ,
    REQUESTS_WRITE,
    ACCOUNTS_READ,
    ACCOUNTS_ADMIN,
    WEBHOOKS_ADMIN,
    OPERATIONS_ADMIN,
)


@dataclass(frozen=True)
class Principal:
    """The API client behind a request. DRF sees it as ``request.user``."""

    client_id: str
    name: str
    scopes: frozenset[str]
    token_prefix: str = ""  # the token this request came with

    is_authenticated = True
    is_anonymous = False

    def has_scopes(self, *required: str) -> bool:
        return set(required) <= self.scopes


@dataclass(frozen=True)
class TokenSummary:
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    client_name: str
    token: str
    scopes: tuple[str, ...]
