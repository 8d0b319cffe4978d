"""The workflow context's events and read models."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.kernel.contracts import Event

# What a run executes (``request_id`` is its id): an account request, or a command on an
# existing account (apps/accounts). Listeners that follow only one kind check it.
ACCOUNT_REQUEST = "account_request"
ACCOUNT_COMMAND = "account_command"


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    run_id: str
    request_id: str

    kind: str = ACCOUNT_REQUEST

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class RunSucceeded(Event):
    run_id: str
    request_id: str
    outputs: dict[str, Any] = field(default_factory=dict)

    kind: str = ACCOUNT_REQUEST

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    run_id: str
    request_id: str
    step: str
    error_code: str
    message: str

    kind: str = ACCOUNT_REQUEST

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class RunResumed(Event):
    """A failed run was retried from its failed steps."""

    run_id: str
    request_id: str
    steps: list[str] = field(default_factory=list)

    kind: str = ACCOUNT_REQUEST

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class RunCancelled(Event):
    run_id: str
    request_id: str
    reason: str

    kind: str = ACCOUNT_REQUEST

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class StepSummary:
    name: str
    legacy_name: str
    state: str
    required: bool
    depends_on: tuple[str, ...]
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    message: str
    outputs: dict[str, Any]
    error_code: str = ""


@dataclass(frozen=True)
class RunSummary:
    id: str
    request_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    failure: str
    steps: tuple[StepSummary, ...]
    kind: str = ACCOUNT_REQUEST
    params: dict[str, Any] = field(default_factory=dict)  # the inputs every step received
    blueprint_name: str = ""
    blueprint_version: int | None = None
    retries: int = 0  # how often an operator or client retried it


@dataclass(frozen=True, kw_only=True)
class RunFinish:
    """A finished run as the operator dashboard measures it."""

    request_id: str
    status: str
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True, kw_only=True)
class StepOutcome:
    """A finished step run (succeeded or failed) as the operator dashboard measures it."""

    name: str
    state: str
    started_at: datetime | None
    finished_at: datetime
