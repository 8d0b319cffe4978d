"""What other contexts know about payers and managed accounts."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.kernel.contracts import COMMAND, CREATION, Event, StepDeclaration


@dataclass(frozen=True)
class PayerSummary:
    """A payer as intake validates against it."""

    name: str
    allowed_environments: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    email_division: str
    email_domain: str
    approval_required_for_regulated: bool = False
    max_monthly_budget_usd: int | None = None


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


@dataclass(frozen=True)
class PayerIntake:
    """What accepting a request needs of its payer, read at once: the payer, its step
    settings (``payer_settings``) and its active blueprints by (environment, regulated)."""

    payer: PayerSummary
    settings: dict[str, Any]
    blueprints: dict[tuple[str, bool], BlueprintPlan] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AccountDrifted(Event):
    """The reconciler found an account changed outside Bespoke: ``kind`` is ``closed``
    (suspended or gone), ``moved`` (to another OU) or ``discovered`` (unknown to Bespoke,
    now recorded as unmanaged)."""

    account_id: str
    aws_account_id: str
    payer: str
    kind: str
    detail: str

    def aggregate_id(self) -> str:
        return self.account_id


@dataclass(frozen=True, kw_only=True)
class GuardrailDrifted(Event):
    """A guardrail Bespoke put in place was changed outside it: an SCP detached, edited or
    deleted (``guardrail`` ``service_control_policy``, found by the reconciler; no account)
    or an account's setting switched off (``s3_block_public_access``, ``guardduty``, ...;
    found by the compliance poller). ``problems``: one sentence each."""

    payer: str
    guardrail: str
    problems: list[str] = field(default_factory=list)
    aws_account_id: str = ""
    subject: str = ""  # the SCP's name, or the account's id

    def aggregate_id(self) -> str:
        return self.aws_account_id or self.message_id


@dataclass(frozen=True)
class ReconcileReport:
    """What one reconciliation of a payer's Organization saw and changed (AWS account ids)."""

    payer: str
    seen: int
    closed: tuple[str, ...]
    moved: tuple[str, ...]
    discovered: tuple[str, ...]
    scps_drifted: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActiveAccount:
    """A managed account in service: what a poller needs to reach it."""

    account_id: str
    aws_account_id: str
    payer: str
    regions: tuple[str, ...] = ()  # where its guardrails were built (none: not governed)


@dataclass(frozen=True)
class AccountCount:
    """How many accounts a payer manages in one environment (for the operator dashboard)."""

    payer: str
    environment: str
    count: int


# --- Managed accounts and commands on them ------------------------------------------

COMMAND_REAPPLY = "reapply"
COMMAND_ADOPT = "adopt"
COMMAND_MOVE = "move"
COMMAND_CLOSE = "close"
COMMANDS = (COMMAND_REAPPLY, COMMAND_ADOPT, COMMAND_MOVE, COMMAND_CLOSE)
# Commands that wait for a second person's approval before anything happens (four eyes).
COMMANDS_NEEDING_APPROVAL = (COMMAND_CLOSE,)


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
    requested_by: str
    approved_by: str
    approved_at: datetime | None
    failure: str
    created_at: datetime
    finished_at: datetime | None


# --- The steps this context runs (apps/accounts/steps/) --------------------------------

_CREATION_STEPS = "apps.accounts.steps.creation"
_VALIDATION_STEP = "apps.accounts.steps.validation"
_COMMAND_STEPS = "apps.accounts.steps.commands"
_ORGANIZATION_STEPS = "apps.accounts.steps.organization"
STEPS: tuple[StepDeclaration, ...] = (
    StepDeclaration(
        name="create_account",
        context="accounts",
        legacy_name="CLA_SUBMISSION",
        run=f"{_CREATION_STEPS}:create_account",
        placement=CREATION,
        describe=f"{_CREATION_STEPS}:describe_create_account",
    ),
    StepDeclaration(
        name="wait_account",
        context="accounts",
        legacy_name="CLA_CREATION",
        run=f"{_CREATION_STEPS}:wait_account",
        placement=CREATION,
        depends_on=("create_account",),
        default_params=f"{_CREATION_STEPS}:WAIT_ACCOUNT_DEFAULT_PARAMS",
        check_params=f"{_CREATION_STEPS}:check_wait_account_params",
        describe=f"{_CREATION_STEPS}:describe_wait_account",
    ),
    StepDeclaration(
        name="account_validation",
        context="accounts",
        legacy_name="CLA_VALIDATION",
        run=f"{_VALIDATION_STEP}:account_validation",
        depends_on=("iam",),  # it checks the alias the iam step sets
        default_params=f"{_VALIDATION_STEP}:ACCOUNT_VALIDATION_DEFAULT_PARAMS",
        check_params=f"{_VALIDATION_STEP}:check_account_validation_params",
        describe=f"{_VALIDATION_STEP}:describe_account_validation",
    ),
    StepDeclaration(
        name="adopt_account",
        context="accounts",
        legacy_name="ACCOUNT_ADOPTION",
        run=f"{_COMMAND_STEPS}:adopt_account",
        placement=COMMAND,
    ),
    StepDeclaration(
        name="move_account",
        context="accounts",
        legacy_name="ACCOUNT_MOVE",
        run=f"{_COMMAND_STEPS}:move_account",
        placement=COMMAND,
    ),
    StepDeclaration(
        name="close_account",
        context="accounts",
        legacy_name="ACCOUNT_CLOSURE",
        run=f"{_COMMAND_STEPS}:close_account",
        placement=COMMAND,
    ),
    # Guardrails at the Organization level (docs/guardrails.md).
    StepDeclaration(
        name="ou_placement",
        context="accounts",
        legacy_name="OU_PLACEMENT",
        run=f"{_ORGANIZATION_STEPS}:ou_placement",
        depends_on=("wait_account",),
        describe=f"{_ORGANIZATION_STEPS}:describe_ou_placement",
        read_back=f"{_ORGANIZATION_STEPS}:ou_placement_problems",
    ),
    StepDeclaration(
        name="service_control_policies",
        context="accounts",
        legacy_name="SCP",
        run=f"{_ORGANIZATION_STEPS}:service_control_policies",
        depends_on=("ou_placement",),
        describe=f"{_ORGANIZATION_STEPS}:describe_service_control_policies",
        read_back=f"{_ORGANIZATION_STEPS}:service_control_policies_problems",
    ),
)
