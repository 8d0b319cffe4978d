"""The notifications context's message handlers (wired in ``tasks/subscriptions.py``)."""

from apps.accounts.contracts import AccountDrifted, GuardrailDrifted
from apps.compliance.contracts import AccountNonCompliant
from apps.kernel import catalog
from apps.kernel.contracts import DeadLetterCreated, RunStep, StepFailed, StepSucceeded
from apps.kernel.steps import execute_step
from apps.notifications.contracts import DeliverWebhook
from apps.notifications.delivery import webhook_deliver
from apps.notifications.services import deliveries_create_for_event, operators_alert_dead_letter, outcome_email_send
from apps.workflow.contracts import RunFailed, RunStarted, RunSucceeded


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    """Run one of this context's steps (each says in its docstring how it is idempotent)."""
    return execute_step(command, catalog.runners("notifications"), attempt=attempt, retry_delay=retry_delay)


def on_run_event(event: RunStarted | StepSucceeded | StepFailed | RunSucceeded | RunFailed) -> None:
    """Offer a run event to the webhook subscriptions that want it and may hear of it.

    Idempotent: the messaging layer claims the event in the inbox in this transaction,
    and deliveries are unique per (subscription, event id) besides.
    """
    deliveries_create_for_event(event=event)


def on_run_finished(event: RunSucceeded | RunFailed, *, attempt: int = 1, retry_delay: float | None = None) -> None:
    """Email the outcome to the requester and the technical contact (a runner: called
    outside any transaction, so the intent to send is committed before the provider is
    called).

    Idempotent: one email per request and outcome (a unique row, its send recorded before
    and after the provider's call), whatever the inbox says.
    """
    outcome_email_send(event=event)


def deliver_webhook(command: DeliverWebhook, *, attempt: int, retry_delay: float | None) -> None:
    """POST one delivery (a runner: called outside any transaction).

    Idempotent: a delivery that already succeeded is not POSTed again. Raises
    ``RetryLater`` while attempts remain; on the last (``retry_delay`` None) a failure
    marks the delivery failed.
    """
    webhook_deliver(delivery_id=command.delivery_id, attempt=attempt, retry_delay=retry_delay)


def on_dead_letter(event: DeadLetterCreated) -> None:
    """Tell operators a message gave up: the ``dead_letter.created`` webhook (to operators
    of every payer only) and an email.

    Idempotent: one delivery per (subscription, event) and the inbox claim for the email.
    """
    deliveries_create_for_event(event=event)
    operators_alert_dead_letter(event=event)


def on_account_non_compliant(event: AccountNonCompliant) -> None:
    """Tell the subscribers who may see the account that its Config rules turned
    non-compliant: the ``account.non_compliant`` webhook.

    Idempotent: one delivery per (subscription, event), besides the inbox claim.
    """
    deliveries_create_for_event(event=event)


def on_account_drifted(event: AccountDrifted) -> None:
    """Tell the subscribers who may see the account that the reconciler found it closed,
    moved or unknown to Bespoke: the ``account.drifted`` webhook.

    Idempotent: one delivery per (subscription, event), besides the inbox claim.
    """
    deliveries_create_for_event(event=event)


def on_guardrail_drifted(event: GuardrailDrifted) -> None:
    """Tell the subscribers who may see the account (or, for an SCP, the whole payer) that
    a guardrail was changed outside Bespoke: the ``guardrail.drifted`` webhook.

    Idempotent: one delivery per (subscription, event), besides the inbox claim.
    """
    deliveries_create_for_event(event=event)
