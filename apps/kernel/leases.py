"""Step leases: a step claims its execution before any side effect.

``acquire`` takes the run's step for one delivery of its ``RunStep`` (in a transaction of
its own, committed before the step starts) and returns a fence number, or ``None`` while
another live delivery holds it. A holder is taken over when its lease expired, or when
it was a process of this host that no longer exists (a worker killed in the middle of a
step; its message is redelivered at once). ``release`` ends the lease in the transaction
that records the step's outcome, and only if the fence is still the holder's.
"""

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from apps.kernel import clock
from apps.kernel.models import StepLease


@dataclass(frozen=True)
class Done:
    """A delivery recorded the step's success at ``succeeded_at``, after this one was asked
    for: what it was sent to do is done (it was a re-dispatch queued behind the first)."""

    succeeded_at: datetime


@dataclass(frozen=True)
class Busy:
    """Another delivery holds the step until ``expires_at``."""

    message_id: str
    expires_at: datetime

    def seconds_left(self) -> float:
        return max(0.0, (self.expires_at - clock.now()).total_seconds())


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` was a process of this host that is gone."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire(
    *, run_id: str, step: str, message_id: str, attempt: int, seconds: float, asked_at: datetime | None = None
) -> int | Busy | Done:
    """Take the step's lease for ``seconds``; its fence, ``Busy`` while another holds it,
    or ``Done`` when another delivery recorded the step's success after ``asked_at`` (when
    this delivery's command was sent). A command sent after the success (a retry that
    asks for the step anew) runs."""
    now = clock.now()
    with transaction.atomic():
        # The step's row, made by its first delivery: inserted unless it exists (a concurrent
        # first delivery's insert waits for ours, then does nothing), then locked — three
        # statements where get_or_create's savepoint made it five.
        StepLease.objects.bulk_create(
            [StepLease(run_id=run_id, step=step, acquired_at=now, expires_at=now, released_at=now)],
            ignore_conflicts=True,
        )
        lease = StepLease.objects.select_for_update().get(run_id=run_id, step=step)
        held = lease.released_at is None and lease.expires_at > now
        if held and not _dead_here(lease.holder):
            return Busy(message_id=lease.message_id, expires_at=lease.expires_at)
        if lease.succeeded_at is not None and asked_at is not None and lease.succeeded_at >= asked_at:
            return Done(succeeded_at=lease.succeeded_at)
        lease.fence += 1
        lease.message_id = message_id
        lease.holder = this_process()
        lease.attempt = attempt
        lease.acquired_at = now
        lease.expires_at = now + timedelta(seconds=seconds)
        lease.released_at = None
        lease.save(
            update_fields=["fence", "message_id", "holder", "attempt", "acquired_at", "expires_at", "released_at"]
        )
        return lease.fence


def release(*, run_id: str, step: str, fence: int, succeeded: bool = False) -> bool:
    """End the lease if ``fence`` still holds it (``succeeded``: with the step's success);
    False if another delivery took it over."""
    now = clock.now()
    done = {"succeeded_at": now} if succeeded else {}
    return bool(
        StepLease.objects.filter(run_id=run_id, step=step, fence=fence, released_at__isnull=True).update(
            released_at=now, **done
        )
    )


def holds(*, run_id: str, step: str, fence: int) -> bool:
    """Whether ``fence`` still holds the step's lease, unexpired."""
    return StepLease.objects.filter(
        run_id=run_id, step=step, fence=fence, released_at__isnull=True, expires_at__gt=clock.now()
    ).exists()


def last_activity(*, run_id: str, step: str) -> datetime | None:
    """When a delivery last took or gave back the step's lease (None: never). Every
    execution does both, a step waiting its turn on every try: written straight to the
    database, this shows a step being worked on even while the events reporting its
    progress are still queued behind others."""
    lease = StepLease.objects.filter(run_id=run_id, step=step).values_list("acquired_at", "released_at").first()
    if lease is None:
        return None
    acquired_at, released_at = lease
    return max(acquired_at, released_at) if released_at is not None else acquired_at


def succeeded_since(*, run_id: str, step: str, since: datetime) -> datetime | None:
    """When a delivery recorded the step's success at or after ``since`` (the latest), or None."""
    return (
        StepLease.objects.filter(run_id=run_id, step=step, succeeded_at__gte=since)
        .order_by("-succeeded_at")
        .values_list("succeeded_at", flat=True)
        .first()
    )
