"""Messages: the frozen dataclasses contexts exchange, and the step protocol.

An *event* says what happened (past tense) and goes to every subscriber; a *command*
asks for one thing to be done and has exactly one handler. Both travel as a JSON
envelope: ``{"type", "version", "message_id", "occurred_at", "correlation_id",
"payload"}`` (the outbox adds ``"trace"`` when tracing is on). Payload fields are JSON
primitives, never model instances.

No Django imports here: contracts are shared by every context and every deployable.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from apps.kernel import clock, ids

Envelope = dict[str, Any]

_REGISTRY: dict[str, type["Message"]] = {}


class UnknownMessage(Exception):
    """An envelope whose type no loaded contract declares, or whose payload doesn't fit it."""


# Where a step sits in a run: every vend starts with the account's creation and ends with
# verify; a blueprint chooses the steps in between; commands on existing accounts run
# their own steps.
CREATION = "creation"
BLUEPRINT = "blueprint"
COMMAND = "command"
VERIFICATION = "verification"
PLACEMENTS = (CREATION, BLUEPRINT, COMMAND, VERIFICATION)


@dataclass(frozen=True)
class StepDeclaration:
    """A workflow step, declared once by the context that runs it (``apps.kernel.catalog``).

    Functions are named by dotted path (``package.module:function``) and imported when
    first used:

    - ``run(context: StepContext) -> outputs``: the step itself;
    - ``check_params(step, params) -> None``: refuse a blueprint's parameters early
      (raises ``InvalidStepParams``); the step checks them again when it runs;
    - ``describe(params, facts: PlanFacts) -> list[str]``: what a dry run says it creates;
    - ``read_back(check: ReadBack) -> list[str]``: what ``verify`` finds wrong with what the
      step built (one sentence per problem; none: nothing to check).
    """

    name: str
    context: str
    legacy_name: str
    run: str
    placement: str = BLUEPRINT
    depends_on: tuple[str, ...] = ()
    default_params: str = ""  # dotted path of the step's default parameters (a mapping)
    check_params: str = ""
    describe: str = ""
    read_back: str = ""

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"Step {self.name}: placement must be one of {', '.join(PLACEMENTS)}.")


@dataclass(frozen=True)
class PlanFacts:
    """What a dry run knows of the request whose plan it describes."""

    payer: str
    region: str
    regulated: bool
    account_email: str
    account_name: str
    vpc: Mapping[str, Any] = field(default_factory=dict)
    environment: str = ""
    monthly_budget_usd: int | None = None
    regions: tuple[str, ...] = ()  # every region the request builds in (``region`` first)

    @property
    def all_regions(self) -> tuple[str, ...]:
        return self.regions or (self.region,)


@dataclass(frozen=True)
class ReadBack:
    """What ``verify`` hands each step's read-back: the run's inputs (the outputs of the
    steps that ran are among them: a VPC's id, say), the parameters the blueprint gave
    the step, and which other steps the blueprint ran."""

    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    expectations: Mapping[str, Mapping[str, Any]]

    @property
    def payer_settings(self) -> Mapping[str, Any]:
        return dict(self.inputs["payer_settings"])

    @property
    def account_id(self) -> str:
        return str(self.inputs["account_id"])


@dataclass(frozen=True)
class Actor:
    """Who asked for something or approved it: an API client or an operator in the admin.

    ``identity`` is stable (ids, not names) and is what four eyes compares; ``label`` is
    what people read ("client:portal", "user:alice").
    """

    kind: str  # "client" or "user"
    id: str
    name: str

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def of_user(cls, user: Any) -> "Actor":
        """An operator signed in to the admin (a Django user)."""
        return cls(kind="user", id=str(user.pk), name=str(user.get_username()))


@dataclass(frozen=True, kw_only=True)
class Message:
    message_id: str = field(default_factory=lambda: ids.new_id())
    occurred_at: datetime = field(default_factory=lambda: clock.now())

    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        existing = _REGISTRY.get(cls.__name__)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise TypeError(f"Two message types are named {cls.__name__}.")
        _REGISTRY[cls.__name__] = cls

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    def aggregate_id(self) -> str:
        """The id messages are ordered by (a run, a request); the message's own by default."""
        return self.message_id

    def payload(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("message_id", "occurred_at")
        }

    def to_envelope(self, *, correlation_id: str | None = None) -> Envelope:
        return {
            "type": self.type_name(),
            "version": self.version,
            "message_id": self.message_id,
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": correlation_id,
            "payload": self.payload(),
        }

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> Self:
        message_type = message_class(envelope.get("type", ""))
        if not issubclass(message_type, cls):
            raise UnknownMessage(f"{envelope.get('type')} is not a {cls.__name__}.")
        try:
            return message_type(
                message_id=envelope["message_id"],
                occurred_at=datetime.fromisoformat(envelope["occurred_at"]),
                **envelope["payload"],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise UnknownMessage(f"Malformed {envelope.get('type')} envelope: {error}") from error


def message_class(type_name: str) -> type[Message]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise UnknownMessage(f"No message type named {type_name!r}.") from None


@dataclass(frozen=True, kw_only=True)
class Event(Message):
    """Something that happened. Every subscriber gets its own copy."""


@dataclass(frozen=True, kw_only=True)
class Command(Message):
    """Something to do. Exactly one handler."""


# --- The step protocol ---------------------------------------------------------------
# The workflow context orchestrates; the context that owns a step runs it. They share
# only these messages, so a context can run in another deployable without the workflow.


@dataclass(frozen=True, kw_only=True)
class RunStep(Command):
    run_id: str
    step: str
    context: str
    attempt: int = 1
    max_attempts: int = 0  # 0: the deployment's default (TASK_MAX_RETRIES + 1)
    inputs: dict[str, Any] = field(default_factory=dict)

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class StepSucceeded(Event):
    run_id: str
    step: str
    attempts: int
    outputs: dict[str, Any] = field(default_factory=dict)

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class StepRetrying(Event):
    run_id: str
    step: str
    attempts: int
    error_code: str
    message: str
    retry_in_seconds: float

    def aggregate_id(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class StepFailed(Event):
    run_id: str
    step: str
    attempts: int
    error_code: str
    message: str

    def aggregate_id(self) -> str:
        return self.run_id


# --- Dead letters ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeadLetterCreated(Event):
    dead_letter_id: str
    handler: str
    message_type: str
    error_code: str
    error: str
    attempts: int

    def aggregate_id(self) -> str:
        return self.dead_letter_id
