"""What other contexts know about payers and managed accounts."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.kernel.contracts import Event


@dataclass(frozen=True)
class PayerSummary:
    """A payer as intake validates against it."""

    name: str
    allowed_environments: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    email_division: str
    email_domain: str


@dataclass(frozen=True)
class AccountSummary:
    id: str | None
    email: str
    name: str
    status: str


@dataclass(frozen=True)
class BlueprintPlan:
    """The blueprint a request gets, pinned by version."""

    blueprint_id: str
    name: str
    version: int
    steps: tuple[dict[str, Any], ...]


# --- Managed accounts and commands on them ------------------------------------------

COMMAND_REAPPLY = "reapply"
COMMAND_ADOPT = "adopt"
COMMAND_MOVE = "move"
COMMAND_CLOSE = "close"
COMMANDS = (COMMAND_REAPPLY, COMMAND_ADOPT, COMMAND_MOVE, COMMAND_CLOSE)


@dataclass(frozen=True, kw_only=True)
class AccountCommandIssued(Event):
    """A command on an existing account was accepted: the workflow runs ``steps`` (each
    ``{"name", "params", "depends_on"}``) with ``inputs`` as every step's inputs, under a
    run whose request id is ``command_id``."""

    command_id: str
    account_id: str
    command: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    blueprint_name: str = ""
    blueprint_version: int | None = None

    def aggregate_id(self) -> str:
        return self.command_id


@dataclass(frozen=True)
class ManagedAccountSummary:
    id: str
    aws_account_id: str
    payer: str
    name: str
    email: str
    status: str
    source: str
    environment: str
    tags: dict[str, str]
    ou_id: str
    request_id: str | None
    failure_reason: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class AccountCommandSummary:
    id: str
    account_id: str
    command: str
    params: dict[str, Any]
    status: str
    client_id: str
    failure: str
    created_at: datetime
    finished_at: datetime | None
