"""Delivering outbox messages synchronously, for service-level tests.

``drain()`` does what the relay and the workers do — route each recorded message to its
subscribers and run their handlers — in the test's own thread and transaction, until
nothing is left. Each runner gets one attempt (its last): a runner that returns a
``StepFailed`` has its message dead-lettered, as ``tasks.consumers`` does. The Celery
wiring itself is exercised by the end-to-end tests.
"""

from apps.kernel import clock
from apps.kernel.contracts import StepFailed
from apps.kernel.models import OutboxMessage
from tasks.consumers import give_up, handle_event, run_step
from tasks.subscriptions import subscribers_for


def drain(*, max_rounds: int = 100) -> list[str]:
    """Deliver every unpublished message (and those they cause). Returns the types delivered."""
    delivered: list[str] = []
    for _ in range(max_rounds):
        pending = list(OutboxMessage.objects.filter(published_at__isnull=True).order_by("sequence"))
        if not pending:
            return delivered
        for message in pending:
            OutboxMessage.objects.filter(pk=message.pk).update(published_at=message.recorded_at)
            delivered.append(message.type)
            for subscriber in subscribers_for(message.envelope):
                if subscriber.runner:
                    outcome = run_step(subscriber, message.envelope, attempt=1, retry_delay=None)
                    if isinstance(outcome, StepFailed):
                        failure = {
                            "attempt": 1,
                            "at": clock.now().isoformat(),
                            "error_code": outcome.error_code,
                            "error": outcome.message,
                        }
                        give_up(subscriber, message.envelope, history=[failure])
                else:
                    handle_event(subscriber, message.envelope)
    raise AssertionError(f"Messages kept coming after {max_rounds} rounds: {delivered[-10:]}")


def purge_in_process_broker() -> int:
    """Empty every queue of the in-process broker: messages earlier tests relayed there
    (with no worker to take them) must not reach the next test's worker threads. How many
    were dropped."""
    from project.celery import app
    from tasks.subscriptions import all_queues

    with app.connection_for_write() as connection:
        return sum(int(connection.default_channel.queue_purge(queue) or 0) for queue in all_queues())
