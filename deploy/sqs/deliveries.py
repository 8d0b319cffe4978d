"""The delivery inbox: which Celery task id and attempt already ran to an end here.

SQS delivers at least once; the handlers' own inbox makes a message's *effect* once, this
saves running it again. A batch asks once for all its records (one query, the first time
a record needs it) and records what ran in one statement when the batch ends. A
delivery that ran but was not recorded (the invocation died before the batch ended) runs
again when it comes back, and its handlers' inbox keeps its effect once.
"""

from collections.abc import Iterable

from apps.kernel import inbox
from deploy.sqs.messages import CeleryMessage

# The inbox's ``message_id`` column holds a Celery task id (a UUID).
_MAX_TASK_ID = 36

Key = tuple[str, str]


def delivery_key(message: CeleryMessage) -> Key | None:
    """The inbox's (handler, message id) for a message's attempt; None if its id does not fit."""
    if len(message.task_id) > _MAX_TASK_ID:
        return None
    return f"sqs:{message.task_name}#{message.retries}"[:100], message.task_id


class DeliveryInbox:
    """The delivery inbox as one batch sees it."""

    def __init__(self, messages: Iterable[CeleryMessage]) -> None:
        self._keys = {key for key in map(delivery_key, messages) if key is not None}
        self._ran: set[Key] | None = None  # read on first use
        self._ran_now: set[Key] = set()

    def already_ran(self, message: CeleryMessage) -> bool:
        key = delivery_key(message)
        if key is None:
            return False
        if key in self._ran_now:  # twice in one batch
            return True
        if self._ran is None:
            self._ran = inbox.processed(self._keys)
        return key in self._ran

    def ran(self, message: CeleryMessage) -> None:
        """The message ran to an end (succeeded, retry published, ignored)."""
        key = delivery_key(message)
        if key is not None:
            self._ran_now.add(key)

    def record(self) -> None:
        """Write what ran since the last call."""
        ran_now, self._ran_now = self._ran_now, set()
        if self._ran is not None:
            self._ran |= ran_now
        inbox.mark_processed(sorted(ran_now))
