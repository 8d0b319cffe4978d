"""The transactional outbox.

``record(message)`` stores a message in the caller's transaction. After commit the
installed publisher (the ``tasks`` layer, which the kernel never imports) relays the row
just stored, without reading it back —
with ``OUTBOX_RELAY_IN_BACKGROUND`` in a web server's process (``project/wsgi.py`` turns it
on) and a Celery pool process (``project/celery.py``), and in the embedded mode while its
worker threads run (``tasks/embedded.py``), from a thread of the process that the commit
wakes, so the API's answer (or the task) does not wait for the broker; else (commands,
Lambda) in the committing thread. If that fails or
the process dies first, the sweeper relays it later. Nothing recorded is
lost, and nothing is published for a transaction that rolled back.
"""

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

import structlog
from django.db import close_old_connections, connection, transaction
from django.db.models import F

from apps.kernel import clock, querylog, tracing
from apps.kernel.contracts import Message
from apps.kernel.logging import current_request_id
from apps.kernel.models import OutboxMessage

log = structlog.get_logger(__name__)

Publisher = Callable[[list[OutboxMessage]], object]
_publisher: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> None:
    """Install the function that relays outbox rows after the transaction that stored them
    commits (rows it need not read back: one the sweeper published meanwhile goes twice,
    and its consumers drop the second copy)."""
    global _publisher
    _publisher = publisher


def record(message: Message) -> None:
    """Store ``message`` in the current transaction; it is relayed once that commits."""
    if not connection.in_atomic_block:
        raise RuntimeError("record() must be called inside transaction.atomic().")
    envelope = message.to_envelope(correlation_id=current_request_id())
    trace = tracing.carrier()
    if trace is not None:
        envelope["trace"] = trace  # the recording span: its consumers continue the trace
    stored = OutboxMessage.objects.create(
        message_id=message.message_id,
        sequence=time.time_ns(),
        type=message.type_name(),
        aggregate_id=message.aggregate_id(),
        envelope=envelope,
        recorded_at=clock.now(),
    )
    transaction.on_commit(lambda: _relay_after_commit(stored), robust=True)


def _relay_after_commit(stored: OutboxMessage) -> None:
    if _publisher is None:
        return
    if _in_background:
        _background.submit(stored)
    else:
        _relay([stored])


def _relay(messages: list[OutboxMessage]) -> None:
    if _publisher is None or not messages:
        return
    try:
        _publisher(messages)
    except Exception:  # the sweeper relays them later; the caller's work is already committed
        log.warning("outbox.relay_deferred", message_ids=[m.message_id for m in messages], exc_info=True)


class _BackgroundRelay:
    """One thread per process relays what commits hand it, in batches (what piled up while
    it published the last). Started on first use, so a forked worker starts its own. What
    it has not relayed when the process ends is still unpublished in the table: the
    sweeper's.

    It marks what it published in one statement per ``MARK_LINGER_SECONDS`` (or per
    ``MARK_BATCH`` messages) rather than one per batch: under load a batch is often one
    message, and its mark (a transaction of its own) cost as much as publishing it. A mark
    lost with the process means only that the sweeper publishes the message again, which
    its consumers drop; ``flush`` (tests, and a process stopping) writes them at once."""

    def __init__(self) -> None:
        self._pending: list[OutboxMessage] = []
        self._marks: list[str] = []
        self._marks_due = 0.0  # monotonic time by which the marks held are written
        self._flushing = 0  # callers of flush() waiting: marks are written at once
        self._busy = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, stored: OutboxMessage) -> None:
        with self._changed:
            self._pending.append(stored)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
                self._thread.start()
                atexit.register(self.flush, 10.0)  # a process stopping (not killed) relays what it holds
            self._changed.notify_all()

    def is_relay_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def hold_marks(self, message_ids: Iterable[str]) -> None:
        """Called from the relay thread only (``mark_published``)."""
        with self._changed:
            if not self._marks:
                self._marks_due = time.monotonic() + MARK_LINGER_SECONDS
            self._marks.extend(message_ids)

    def _marks_to_write(self) -> bool:
        return bool(self._marks) and (
            bool(self._flushing) or len(self._marks) >= MARK_BATCH or time.monotonic() >= self._marks_due
        )

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._marks_to_write():
                    self._changed.wait(max(0.0, self._marks_due - time.monotonic()) if self._marks else None)
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                if batch:  # else woken only to write the marks it holds
                    close_old_connections()  # this thread's own connection: reused while healthy
                    querylog.start_anew()  # with DEBUG on, only this batch's queries are kept
                    _relay(batch)
            except Exception:
                log.warning("outbox.relay_deferred", message_ids=[m.message_id for m in batch], exc_info=True)
            try:
                self._write_marks()
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _write_marks(self) -> None:
        with self._changed:
            if not self._marks_to_write():
                return
            marks, self._marks = self._marks, []
        try:
            _mark_published_now(marks)
        except Exception:  # published, not marked: the sweeper sends them again, consumers drop the copies
            log.warning("outbox.mark_deferred", message_ids=marks, exc_info=True)

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far is relayed and marked; False if ``timeout``
        passed first."""
        with self._changed:
            self._flushing += 1
            self._changed.notify_all()
            try:
                return self._changed.wait_for(
                    lambda: not self._pending and not self._busy and not self._marks, timeout=timeout
                )
            finally:
                self._flushing -= 1


# How long the relay thread holds what it published before marking it, and how many it
# marks at most in one statement (both far below OUTBOX_SWEEP_AFTER_SECONDS).
MARK_LINGER_SECONDS = 0.2
MARK_BATCH = 500
_background = _BackgroundRelay()
_in_background = False


def relay_in_background(enabled: bool) -> None:
    """Relay after commit from this process's relay thread (``enabled``) or in the
    committing thread. Long-lived processes turn it on (the web server's entry point, a
    Celery pool process, the embedded mode's workers) and hand on what they hold as they
    stop; a command relays in line, so a short-lived process never exits with messages in
    memory."""
    global _in_background
    _in_background = enabled


def relaying_in_background() -> bool:
    return _in_background


def relay_flush(timeout: float = 10.0) -> bool:
    """Wait for this process's background relay to hand on what commits gave it (tests,
    and a process about to stop); False if it is still busy after ``timeout`` seconds."""
    return _background.flush(timeout)


NO_SUBSCRIBERS = "no_subscribers"
DEAD_LETTER = "dead_letter"


def pending_ids(*, older_than_seconds: float = 0, limit: int = 500) -> list[str]:
    """Unpublished messages the sweeper still tries, oldest first (parked ones are not)."""
    queryset = OutboxMessage.objects.filter(published_at__isnull=True, parked_at__isnull=True)
    if older_than_seconds:
        queryset = queryset.filter(recorded_at__lte=clock.now() - timedelta(seconds=older_than_seconds))
    return list(queryset.order_by("sequence").values_list("message_id", flat=True)[:limit])


def unpublished(message_ids: Iterable[str]) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(
            message_id__in=list(message_ids), published_at__isnull=True, parked_at__isnull=True
        ).order_by("sequence")
    )


def mark_published(*message_ids: str) -> None:
    """Mark these messages published, in one statement (the background relay's thread
    holds its marks a moment and writes several together)."""
    if not message_ids:
        return
    if _background.is_relay_thread():
        _background.hold_marks(message_ids)
        return
    _mark_published_now(message_ids)


def _mark_published_now(message_ids: Sequence[str]) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Losing this mark in a crash only means the sweeper publishes the message
            # again, which consumers ignore; so it needn't wait for the disk (it halves
            # the after-commit cost of a request).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        OutboxMessage.objects.filter(message_id__in=message_ids, published_at__isnull=True).update(
            published_at=clock.now()
        )


def mark_failed(message_id: str, error: str) -> int:
    """Count a failed publish; returns how many attempts have failed so far."""
    OutboxMessage.objects.filter(message_id=message_id).update(
        publish_attempts=F("publish_attempts") + 1, last_error=error[:2000]
    )
    return OutboxMessage.objects.filter(message_id=message_id).values_list("publish_attempts", flat=True).first() or 0


def park(message_id: str, *, reason: str, error: str = "") -> bool:
    """Stop relaying an unpublished message (``NO_SUBSCRIBERS`` or ``DEAD_LETTER``);
    False if it was published or parked meanwhile."""
    changes: dict[str, object] = {"parked_at": clock.now(), "parked_as": reason}
    if error:
        changes["last_error"] = error[:2000]
    return bool(
        OutboxMessage.objects.filter(message_id=message_id, published_at__isnull=True, parked_at__isnull=True).update(
            **changes
        )
    )


def send_again(*, type_name: str, aggregate_id: str, **payload: object) -> int:
    """Hand the published messages of ``type_name`` for ``aggregate_id`` whose payload holds
    ``payload`` back to the relay, with their own message ids, and publish them once this
    transaction commits; how many. For a message published but never applied (its
    consumer's worker killed with it, the broker's redelivery an hour away): a consumer
    that did apply it drops the second copy (its inbox knows the id)."""
    found = [
        message_id
        for message_id, envelope in OutboxMessage.objects.filter(
            type=type_name, aggregate_id=aggregate_id, published_at__isnull=False
        ).values_list("message_id", "envelope")
        if all(envelope.get("payload", {}).get(key) == value for key, value in payload.items())
    ]
    if not found:
        return 0
    OutboxMessage.objects.filter(message_id__in=found).update(published_at=None, publish_attempts=0)
    transaction.on_commit(lambda: _relay(unpublished(found)), robust=True)
    return len(found)


def unpark(message_id: str) -> bool:
    """Hand a parked message back to the sweeper, its attempts counted from zero again."""
    return bool(
        OutboxMessage.objects.filter(message_id=message_id, published_at__isnull=True, parked_at__isnull=False).update(
            parked_at=None, parked_as="", publish_attempts=0
        )
    )
