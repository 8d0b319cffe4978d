"""Running one workflow step, the same way in every context.

A context that provides steps declares them (its ``contracts.py``), writes them (its
``steps`` package, with the helpers of ``apps.kernel.steptools``) and hands ``RunStep``
commands to ``execute_step``. The step function does the work (idempotently:
re-running converges on the same state) and returns its outputs; ``execute_step``
reports the outcome as ``StepSucceeded`` / ``StepRetrying`` / ``StepFailed`` through the
outbox, exactly once per command thanks to the inbox.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from apps.kernel import inbox, leases, tracing
from apps.kernel.contracts import RunStep, StepFailed, StepRetrying, StepSucceeded
from apps.kernel.errors import RetryableError, StepError, WaitForQuota
from apps.kernel.logging import bound
from apps.kernel.outbox import record
from apps.kernel.steptools import merged_params, required_input

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StepContext:
    run_id: str
    step: str
    attempt: int
    inputs: Mapping[str, Any]
    fence: int | None = None  # the step lease this execution holds (None: run outside execute_step)

    def require(self, name: str) -> Any:
        """An input the step cannot run without (a programming error if absent)."""
        return required_input(self.inputs, name, step=self.step)

    def params(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters the step runs with: the blueprint's (the ``step_params`` input)
        laid over ``defaults``; unknown keys refused (``merged_params``)."""
        return merged_params(self.step, self.inputs.get("step_params"), defaults)

    def ensure_lease(self) -> None:
        """Call right before a side effect that must not happen twice (CreateAccount):
        raises ``LeaseLost`` if another delivery took the step over meanwhile."""
        if self.fence is not None and not leases.holds(run_id=self.run_id, step=self.step, fence=self.fence):
            raise LeaseLost(f"Another delivery took the step over (this one held fence {self.fence}).")


class LeaseLost(StepError):
    """This execution's lease on the step expired and another delivery holds it now."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="lease_lost")


StepFunction = Callable[[StepContext], dict[str, Any]]

# The database was away or refused this transaction for now: a dropped or closed
# connection, a failover, a serialization failure or deadlock (PostgreSQL's
# ``TransactionRollbackError``s are ``OperationalError``s). It passes: the step or handler
# is tried again, never failed for it. Integrity and programming errors are not here: they
# would fail the same way again.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)


class RetryLater(Exception):
    """Raised to the messaging layer: retry this command after ``delay`` seconds.

    ``counts`` is False when the retry is a wait for a quota, not a failed attempt."""

    def __init__(self, error: StepError, delay: float, *, counts: bool = True) -> None:
        super().__init__(error.message)
        self.error = error
        self.delay = delay
        self.counts = counts


class StepInProgress(RetryableError):
    """Another delivery of this step is executing it now: wait for it to finish."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="step_in_progress")


def execute_step(
    command: RunStep,
    steps: Mapping[str, StepFunction],
    *,
    attempt: int,
    retry_delay: float | None,
) -> StepSucceeded | StepFailed | None:
    """Run ``command``'s step, record its outcome and return it (None: already done, or
    another delivery's outcome counts).

    Before the step's first side effect the delivery takes the step's lease
    (``apps.kernel.leases``): while another delivery holds it (a redelivery, or the
    stuck-run sweeper's re-dispatch of a step still running), this one waits for it —
    ``RetryLater`` that uses up no attempt — and never runs alongside. The outcome is
    recorded in the transaction that releases the lease, only if the lease is still this
    delivery's (fenced). A delivery sent before another recorded the step's success (a
    re-dispatch that waited in a backlog) does nothing.

    ``retry_delay`` is the back-off before the next attempt, or ``None`` when this is the
    last one: a retryable error then fails the step instead of raising ``RetryLater``.
    """
    handler = f"step:{command.step}"
    if inbox.already_processed(handler, command.message_id):
        log.info("step.duplicate_delivery_ignored", step=command.step, run_id=command.run_id)
        return None
    with (
        bound(run_id=command.run_id, step=command.step, attempt=attempt),
        tracing.span(
            f"step {command.step}",
            attributes=lambda: {"bespoke.run_id": command.run_id, "bespoke.attempt": attempt},  # the name says the step
            # A step tried again, waiting for a quota or for the database, has not failed:
            # only its last attempt's failure marks the span failed.
            not_errors=(RetryLater, *TRANSIENT_DATABASE_ERRORS),
        ) as current,
    ):
        try:
            outcome = _execute(handler, command, steps, attempt=attempt, retry_delay=retry_delay)
        except RetryLater as later:
            if current is not None:
                outcome_name = "retrying" if later.counts else "waiting"
                current.set_attributes({"bespoke.outcome": outcome_name, "bespoke.error_code": later.error.code})
            raise
        except TRANSIENT_DATABASE_ERRORS:
            if current is not None:
                current.set_attributes({"bespoke.outcome": "retrying", "bespoke.error_code": "database_unavailable"})
            raise
        if current is not None and isinstance(outcome, StepFailed):
            current.set_attributes({"bespoke.outcome": "failed", "bespoke.error_code": outcome.error_code})
            tracing.set_error(current, outcome.error_code)
        return outcome


def _execute(
    handler: str, command: RunStep, steps: Mapping[str, StepFunction], *, attempt: int, retry_delay: float | None
) -> StepSucceeded | StepFailed | None:
    function = steps.get(command.step)
    if function is None:
        message = f"No step named {command.step!r} in context {command.context!r}."
        return _failed(handler, command, attempt=attempt, code="unknown_step", message=message)
    lease = leases.acquire(
        run_id=command.run_id,
        step=command.step,
        message_id=command.message_id,
        attempt=attempt,
        seconds=settings.STEP_LEASE_SECONDS,
        asked_at=command.occurred_at,
    )
    if isinstance(lease, leases.Done):
        # A re-dispatch that waited in the queue while the first delivery finished:
        # running the step again would only repeat its work.
        log.info("step.done_by_another_delivery", succeeded_at=lease.succeeded_at.isoformat())
        inbox.claim(handler, command.message_id)
        return None
    if isinstance(lease, leases.Busy):
        wait = min(max(lease.seconds_left(), 1.0), settings.STEP_LEASE_RECHECK_SECONDS)
        log.info("step.in_progress_elsewhere", holder=lease.message_id, retry_in=wait)
        busy = StepInProgress(f"Another delivery ({lease.message_id}) is running this step; waiting for it.")
        raise RetryLater(busy, wait, counts=False)
    return _run_leased(handler, command, function, lease, attempt=attempt, retry_delay=retry_delay)


def _run_leased(
    handler: str, command: RunStep, function: StepFunction, fence: int, *, attempt: int, retry_delay: float | None
) -> StepSucceeded | StepFailed | None:
    context = StepContext(run_id=command.run_id, step=command.step, attempt=attempt, inputs=command.inputs, fence=fence)
    log.info("step.started", fence=fence)
    try:
        outputs = function(context)
    except WaitForQuota as waiting:
        log.info("step.waiting_for_quota", message=waiting.message, retry_in=waiting.delay)
        if _retrying(command, fence, waiting, attempt=attempt, delay=waiting.delay):
            raise RetryLater(waiting, waiting.delay, counts=False) from waiting
        return None
    except StepError as error:
        if error.retryable and retry_delay is not None:
            log.info("step.retrying", error_code=error.code, message=error.message, retry_in=retry_delay)
            if _retrying(command, fence, error, attempt=attempt, delay=retry_delay):
                raise RetryLater(error, retry_delay) from error
            return None
        log.warning("step.failed", error_code=error.code, message=error.message)
        message = _exhausted(error, attempt) if error.retryable else error.message
        return _failed(handler, command, attempt=attempt, code=error.code, message=message, fence=fence)
    except TRANSIENT_DATABASE_ERRORS:
        # Nothing is recorded (the database may be the one away): the messaging layer
        # tries the command again after a back-off; the lease runs out or is taken over.
        log.warning("step.database_unavailable", exc_info=True)
        raise
    except Exception as error:
        # A bug, not a condition of the outside world: retrying would repeat it.
        log.exception("step.crashed")
        message = f"{type(error).__name__}: {error}"
        return _failed(handler, command, attempt=attempt, code="internal_error", message=message, fence=fence)
    log.info("step.succeeded")
    return _record_once(
        handler,
        command,
        StepSucceeded(run_id=command.run_id, step=command.step, attempts=attempt, outputs=outputs),
        fence=fence,
    )


def _retrying(command: RunStep, fence: int, error: StepError, *, attempt: int, delay: float) -> bool:
    """Give the lease back and record the retry; False if the lease was lost meanwhile
    (another delivery took the step over: its outcome counts, not this one's)."""
    with transaction.atomic():
        if not leases.release(run_id=command.run_id, step=command.step, fence=fence):
            log.warning("step.lease_lost", fence=fence)
            return False
        record(
            StepRetrying(
                run_id=command.run_id,
                step=command.step,
                attempts=attempt,
                error_code=error.code,
                message=error.message,
                retry_in_seconds=round(delay, 3),
            )
        )
    return True


def _exhausted(error: StepError, attempt: int) -> str:
    return f"{error.message} (gave up after {attempt} attempts)"


def _failed(
    handler: str, command: RunStep, *, attempt: int, code: str, message: str, fence: int | None = None
) -> StepFailed | None:
    """Record that the step failed for good (``code``, ``message``), once."""
    failed = StepFailed(run_id=command.run_id, step=command.step, attempts=attempt, error_code=code, message=message)
    return _record_once(handler, command, failed, fence=fence)


def _record_once[Outcome: (StepSucceeded, StepFailed)](
    handler: str, command: RunStep, outcome: Outcome, *, fence: int | None = None
) -> Outcome | None:
    """Record ``outcome`` with the inbox claim and the lease's release, in one transaction;
    None if another delivery took the lease over (its outcome counts) or already recorded
    this message's outcome (the lease is given back all the same).

    The claim comes first, with no savepoint of its own: a duplicate leaves nothing to
    undo, and the rare release that follows it has a transaction of its own."""
    succeeded = isinstance(outcome, StepSucceeded)
    with transaction.atomic():
        if inbox.claim(handler, command.message_id, first_write=True):
            if fence is not None and not leases.release(
                run_id=command.run_id, step=command.step, fence=fence, succeeded=succeeded
            ):
                log.warning("step.lease_lost", fence=fence, outcome=outcome.type_name())
                transaction.set_rollback(True)  # the claim too: the holder records the outcome
                return None
            record(outcome)
            return outcome
    if fence is not None:
        leases.release(run_id=command.run_id, step=command.step, fence=fence, succeeded=succeeded)
    return None


__all__ = [
    "TRANSIENT_DATABASE_ERRORS",
    "LeaseLost",
    "RetryLater",
    "RetryableError",
    "StepContext",
    "StepFunction",
    "StepInProgress",
    "execute_step",
]
