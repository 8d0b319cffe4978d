"""Redriving dead letters: hand a parked message to its handler again.

A failed step's ``RunStep`` is redriven by retrying its request from the failed steps
(the run failed with it, so sending the command alone would change nothing); any other
message goes back on its handler's queue.
"""

from typing import Any

from apps.kernel import outbox
from tasks.relay import RELAY_HANDLER, send_envelope
from tasks.subscriptions import all_subscribers


def redrive(handler: str, envelope: dict[str, Any]) -> str:
    # Imported here, so that loading the messaging layer doesn't load the intake context.
    from apps.intake import api as intake

    if envelope.get("type") == "RunStep":
        request_id = envelope.get("payload", {}).get("inputs", {}).get("request_id")
        if not request_id:
            raise intake.RequestStateConflict("This step message names no request to retry.")
        intake.request_retry(request_id=request_id)
        return f"retried request {request_id} from its failed steps"
    if handler == RELAY_HANDLER:
        message_id = str(envelope.get("message_id", ""))
        if not outbox.unpark(message_id):
            raise intake.RequestStateConflict(f"Outbox message {message_id} is not parked any more.")
        return "handed back to the outbox sweeper"
    queues = {subscriber.name: subscriber.queue for subscriber in all_subscribers()}
    if handler not in queues:
        raise intake.RequestStateConflict(f"No handler named {handler} any more.")
    send_envelope(handler, envelope, queue=queues[handler])
    return f"sent to {handler} again"
