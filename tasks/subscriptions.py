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
    # A runner is called as ``handler(message, attempt=, retry_delay=)`` outside any
    # transaction and keeps its own exactly-once record (steps, webhook deliveries): its
    # work talks to the outside world and cannot be rolled back. Other handlers run in a
    # transaction together with their inbox claim.
    runner: bool = False
    # The name of a setting listing the delays (seconds) between this subscriber's attempts,
    # instead of the exponential back-off of TASK_MAX_RETRIES (webhooks: about three days).
    retry_schedule: str = ""

    @property
    def context(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def queue(self) -> str:
        return f"q.{self.context}"


# Webhooks: every run event is offered to the subscriptions that want it.
_WEBHOOKS = Subscriber("notifications.on_run_event", "apps.notifications.handlers.on_run_event")
# Email: the requester and technical contact hear of the outcome, once.
# A runner: the intent to send is committed before SES is called (across a crash, once).
_EMAIL = Subscriber("notifications.on_run_finished", "apps.notifications.handlers.on_run_finished", runner=True)

# A command on an existing account hears how its run ended.
_COMMAND_OUTCOME = Subscriber("accounts.on_command_run_finished", "apps.accounts.handlers.on_command_run_finished")

# A run that ends without its account gives its CIDR block back to the pool.
_RELEASE_CIDR = Subscriber("network.on_run_failed", "apps.network.handlers.on_run_failed")

EVENT_SUBSCRIBERS: dict[str, tuple[Subscriber, ...]] = {
    "AccountRequested": (Subscriber("workflow.on_account_requested", "apps.workflow.handlers.on_account_requested"),),
    "AccountCommandIssued": (
        Subscriber("workflow.on_account_command_issued", "apps.workflow.handlers.on_account_command_issued"),
    ),
    "StepSucceeded": (
        Subscriber("workflow.on_step_succeeded", "apps.workflow.handlers.on_step_succeeded"),
        _WEBHOOKS,
    ),
    "StepRetrying": (Subscriber("workflow.on_step_retrying", "apps.workflow.handlers.on_step_retrying"),),
    "StepFailed": (
        Subscriber("workflow.on_step_failed", "apps.workflow.handlers.on_step_failed"),
        _WEBHOOKS,
    ),
    "RunStarted": (Subscriber("intake.on_run_started", "apps.intake.handlers.on_run_started"), _WEBHOOKS),
    "RunSucceeded": (
        Subscriber("intake.on_run_succeeded", "apps.intake.handlers.on_run_succeeded"),
        _WEBHOOKS,
        _EMAIL,
        _COMMAND_OUTCOME,
    ),
    "RunFailed": (
        Subscriber("intake.on_run_failed", "apps.intake.handlers.on_run_failed"),
        _RELEASE_CIDR,
        _WEBHOOKS,
        _EMAIL,
        _COMMAND_OUTCOME,
    ),
    "RunCancelled": (
        _RELEASE_CIDR,
        _WEBHOOKS,
        Subscriber("accounts.on_run_cancelled", "apps.accounts.handlers.on_run_cancelled"),
        _COMMAND_OUTCOME,
    ),
    "DeadLetterCreated": (Subscriber("notifications.on_dead_letter", "apps.notifications.handlers.on_dead_letter"),),
    "AccountDrifted": (
        Subscriber("notifications.on_account_drifted", "apps.notifications.handlers.on_account_drifted"),
    ),
    "AccountNonCompliant": (
        Subscriber("notifications.on_account_non_compliant", "apps.notifications.handlers.on_account_non_compliant"),
    ),
    "GuardrailDrifted": (
        Subscriber("notifications.on_guardrail_drifted", "apps.notifications.handlers.on_guardrail_drifted"),
    ),
}

# RunStep commands, by the context named in the command.
STEP_RUNNERS: dict[str, Subscriber] = {
    context: Subscriber(f"{context}.run_step", f"apps.{context}.handlers.run_step", runner=True)
    for context in ("accounts", "baseline", "network", "compliance", "notifications")
}

# Other commands: exactly one handler each.
COMMAND_HANDLERS: dict[str, Subscriber] = {
    "DeliverWebhook": Subscriber(
        "notifications.deliver_webhook",
        "apps.notifications.handlers.deliver_webhook",
        runner=True,
        retry_schedule="WEBHOOK_RETRY_SCHEDULE",
    ),
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
    if message_type in COMMAND_HANDLERS:
        return (COMMAND_HANDLERS[message_type],)
    return EVENT_SUBSCRIBERS.get(message_type, ())


def all_subscribers() -> list[Subscriber]:
    """Every subscriber once (one may listen to several message types)."""
    everyone = [
        *(s for group in EVENT_SUBSCRIBERS.values() for s in group),
        *STEP_RUNNERS.values(),
        *COMMAND_HANDLERS.values(),
    ]
    return list({s.name: s for s in everyone}.values())


DEFAULT_QUEUE = "q.default"


def all_queues() -> list[str]:
    """Every queue: one per context that handles messages, plus one for housekeeping."""
    return [DEFAULT_QUEUE, *sorted({s.queue for s in all_subscribers()})]
