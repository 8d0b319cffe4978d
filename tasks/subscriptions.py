"""Who listens to what: the one map of how messages flow through Bespoke.

Events go to every subscriber listed (each gets its own Celery message on its context's
queue, and fails and retries on its own). ``RunStep`` commands go to exactly one step
runner: the one of the context that owns the step.

Handlers are named by dotted path and imported only when a message arrives, so a
deployable that runs one context loads only that context's code.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Subscriber:
    name: str  # the Celery task name; stable, it is written into queued messages
    handler: str  # dotted path of the function that handles the message

    @property
    def context(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def queue(self) -> str:
        return f"q.{self.context}"


EVENT_SUBSCRIBERS: dict[str, tuple[Subscriber, ...]] = {
    "AccountRequested": (Subscriber("workflow.on_account_requested", "apps.workflow.handlers.on_account_requested"),),
    "StepSucceeded": (Subscriber("workflow.on_step_succeeded", "apps.workflow.handlers.on_step_succeeded"),),
    "StepRetrying": (Subscriber("workflow.on_step_retrying", "apps.workflow.handlers.on_step_retrying"),),
    "StepFailed": (Subscriber("workflow.on_step_failed", "apps.workflow.handlers.on_step_failed"),),
    "RunStarted": (Subscriber("intake.on_run_started", "apps.intake.handlers.on_run_started"),),
    "RunSucceeded": (Subscriber("intake.on_run_succeeded", "apps.intake.handlers.on_run_succeeded"),),
    "RunFailed": (Subscriber("intake.on_run_failed", "apps.intake.handlers.on_run_failed"),),
}

# RunStep commands, by the context named in the command.
STEP_RUNNERS: dict[str, Subscriber] = {
    "accounts": Subscriber("accounts.run_step", "apps.accounts.handlers.run_step"),
}


class NoSubscriber(Exception):
    pass


def subscribers_for(envelope: dict[str, Any]) -> tuple[Subscriber, ...]:
    message_type = envelope.get("type", "")
    if message_type == "RunStep":
        context = envelope.get("payload", {}).get("context", "")
        try:
            return (STEP_RUNNERS[context],)
        except KeyError:
            raise NoSubscriber(f"No context {context!r} runs steps.") from None
    return EVENT_SUBSCRIBERS.get(message_type, ())


def all_subscribers() -> list[Subscriber]:
    subscribers = [s for group in EVENT_SUBSCRIBERS.values() for s in group]
    return [*subscribers, *STEP_RUNNERS.values()]


DEFAULT_QUEUE = "q.default"


def all_queues() -> list[str]:
    """Every queue: one per context that handles messages, plus one for housekeeping."""
    return [DEFAULT_QUEUE, *sorted({s.queue for s in all_subscribers()})]
