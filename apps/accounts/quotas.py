"""AWS Organizations quotas, respected by every worker at once.

Organizations allows at most five account creations in flight per organization, about
one CreateAccount call every ten seconds (with a small burst) and a few status polls a
second. Workers run in many processes (and, embedded, in threads), so the limiter lives
in the database they share — PostgreSQL in services mode, SQLite embedded — not in
process memory, and needs no Redis:

- ``take`` is a token bucket per organization and quota: one row, read and written under
  a row lock (``SELECT ... FOR UPDATE``; SQLite's IMMEDIATE transactions serialize writers
  the same way), refilled lazily from the time elapsed since it was last written.
- ``creation_slot_reserve`` hands out the in-flight creation slots: under the
  organization's lock it counts the accounts holding one (``ManagedAccount.slot_taken_at``
  set, ``slot_released_at`` not yet) and grants a slot only below the limit and only when
  no earlier request is still waiting for one (first come, first served).
  ``services.account_update`` releases the slot when the account leaves ``creating``.

A step that must wait raises ``WaitForQuota``: it is tried again later without using up
its attempts, and its status says it is waiting its turn. Time comes from the kernel
clock, so tests move it instead of sleeping.

Settings (``getattr(settings, NAME, default)``): ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT (5),
ORGANIZATIONS_CREATE_ACCOUNT_RATE (0.1 per second), ORGANIZATIONS_CREATE_ACCOUNT_BURST (3),
ORGANIZATIONS_STATUS_POLL_RATE (2.0 per second), ORGANIZATIONS_STATUS_POLL_BURST (2),
ORGANIZATIONS_SLOT_RECHECK_SECONDS (5.0: how soon a refused creation asks again, once per
``limit`` creations waiting ahead of it: ``slot_recheck_delay``) and
ORGANIZATIONS_SLOT_LEASE_SECONDS (900: a slot older than this no longer counts, so a
creation whose worker gave up or died cannot block its organization for ever).
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from apps.accounts.models import ManagedAccount, QuotaBucket
from apps.kernel import clock
from apps.kernel.errors import WaitForQuota

CREATE_ACCOUNT = "CreateAccount"
STATUS_POLL = "DescribeCreateAccountStatus"
# The row whose lock serializes slot reservations in one organization.
_SLOTS_LOCK = "CreationsInFlight"
# Refills are sums of floats: 0.9999999999999998 tokens is one token.
_ROUNDING = 1e-9
_SHORTEST_WAIT = 0.001
# A waiting creation that has not asked again for this long no longer keeps its place.
_WAITER_FORGOTTEN_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Quota:
    name: str
    rate_per_second: float
    burst: int

    def describe(self) -> str:
        pace = f"{self.rate_per_second:g} calls a second"
        if self.rate_per_second < 1:
            pace = f"one call every {1 / self.rate_per_second:g} seconds"
        return f"{self.name} is limited to {pace} per organization (burst {self.burst})"


def create_account_quota() -> Quota:
    return Quota(
        CREATE_ACCOUNT,
        float(getattr(settings, "ORGANIZATIONS_CREATE_ACCOUNT_RATE", 0.1)),
        int(getattr(settings, "ORGANIZATIONS_CREATE_ACCOUNT_BURST", 3)),
    )


def status_poll_quota() -> Quota:
    return Quota(
        STATUS_POLL,
        float(getattr(settings, "ORGANIZATIONS_STATUS_POLL_RATE", 2.0)),
        int(getattr(settings, "ORGANIZATIONS_STATUS_POLL_BURST", 2)),
    )


def max_creations_in_flight() -> int:
    return int(getattr(settings, "ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT", 5))


def _slot_lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "ORGANIZATIONS_SLOT_LEASE_SECONDS", 900)))


def _slot_recheck_seconds() -> float:
    return float(getattr(settings, "ORGANIZATIONS_SLOT_RECHECK_SECONDS", 5.0))


# --- Token buckets -------------------------------------------------------------------


def _locked_bucket(*, organization_id: str, name: str, initial_tokens: float) -> QuotaBucket:
    """The bucket's row, locked until the surrounding transaction ends (created full on
    first use; a concurrent first use inserts nothing twice)."""
    rows = QuotaBucket.objects.select_for_update().filter(organization_id=organization_id, name=name)
    bucket = rows.first()
    if bucket is None:
        QuotaBucket.objects.bulk_create(
            [QuotaBucket(organization_id=organization_id, name=name, tokens=initial_tokens, updated_at=clock.now())],
            ignore_conflicts=True,
        )
        bucket = rows.get()
    return bucket


@transaction.atomic
def take(*, organization_id: str, name: str, rate_per_second: float, burst: int) -> float:
    """Take one token from the organization's ``name`` bucket: 0 when taken, else the
    seconds until one will be there (nothing is taken then)."""
    if rate_per_second <= 0 or burst < 1:
        raise ValueError("A quota needs a positive rate and a burst of at least 1.")
    bucket = _locked_bucket(organization_id=organization_id, name=name, initial_tokens=float(burst))
    now = clock.now()  # read under the lock: a writer that waited for it must not refill from the past
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    tokens = min(float(burst), bucket.tokens + elapsed * rate_per_second)
    wait = 0.0
    if tokens >= 1 - _ROUNDING:
        tokens = max(0.0, tokens - 1)
    else:
        # At least a millisecond: a wait that rounds to no time would be retried at once.
        wait = max((1 - tokens) / rate_per_second, _SHORTEST_WAIT)
    bucket.tokens = tokens
    bucket.updated_at = max(now, bucket.updated_at)
    bucket.save(update_fields=["tokens", "updated_at"])
    return wait


def take_or_wait(*, organization_id: str, quota: Quota) -> None:
    """Take a token of ``quota`` or raise ``WaitForQuota`` saying how long to wait."""
    wait = take(
        organization_id=organization_id, name=quota.name, rate_per_second=quota.rate_per_second, burst=quota.burst
    )
    if wait > 0:
        raise WaitForQuota(
            f"{quota.describe()} — waiting {wait:.1f} s for its turn.",
            delay=wait,
        )


# --- In-flight creation slots ----------------------------------------------------------


@dataclass(frozen=True)
class SlotAnswer:
    granted: bool
    in_flight: int  # creations holding a slot in the organization, this one excluded
    waiting_ahead: int  # earlier creations still waiting for a slot


def _holding(now: datetime) -> Q:
    return Q(
        status=ManagedAccount.Status.CREATING,
        slot_taken_at__isnull=False,
        slot_taken_at__gt=now - _slot_lease(),
        slot_released_at__isnull=True,
    )


def holds_slot(account: ManagedAccount, *, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return (
        account.status == ManagedAccount.Status.CREATING
        and account.slot_taken_at is not None
        and account.slot_taken_at > now - _slot_lease()
        and account.slot_released_at is None
    )


@transaction.atomic
def creation_slot_reserve(*, account_id: str, limit: int) -> SlotAnswer:
    """Give the account one of its organization's in-flight creation slots, unless
    ``limit`` are taken or earlier requests are still waiting for one. Idempotent: an
    account that holds a slot keeps it (granted again, nothing new taken)."""
    organization_id = (
        ManagedAccount.objects.filter(pk=account_id).values_list("payer__management_account_id", flat=True).get()
    )
    _locked_bucket(organization_id=organization_id, name=_SLOTS_LOCK, initial_tokens=0.0)
    account = ManagedAccount.objects.select_for_update().get(pk=account_id)
    now = clock.now()
    if holds_slot(account, now=now):
        return SlotAnswer(granted=True, in_flight=0, waiting_ahead=0)
    in_organization = ManagedAccount.objects.filter(payer__management_account_id=organization_id).exclude(pk=account.pk)
    in_flight = in_organization.filter(_holding(now)).count()
    waiting_ahead = (
        in_organization.filter(
            status=ManagedAccount.Status.CREATING,
            aws_account_id="",
            create_request_id="",
            slot_requested_at__gte=now - _WAITER_FORGOTTEN_AFTER,
        )
        .exclude(_holding(now))
        .filter(Q(created_at__lt=account.created_at) | Q(created_at=account.created_at, pk__lt=account.pk))
        .count()
    )
    granted = in_flight + waiting_ahead < limit
    if granted:
        # Stamped after counting: any release the count saw was stamped before it, so the
        # recorded intervals never show an overlap that did not happen.
        account.slot_taken_at, account.slot_released_at = clock.now(), None
        account.save(update_fields=["slot_taken_at", "slot_released_at"])
    else:
        account.slot_requested_at = now
        account.save(update_fields=["slot_requested_at"])
    return SlotAnswer(granted=granted, in_flight=in_flight, waiting_ahead=waiting_ahead)


def creation_slot_or_wait(account: ManagedAccount) -> None:
    """Hold an in-flight creation slot for ``account`` or raise ``WaitForQuota``."""
    limit = max_creations_in_flight()
    answer = creation_slot_reserve(account_id=account.pk, limit=limit)
    if answer.granted:
        account.refresh_from_db(fields=["slot_taken_at", "slot_released_at"])
        return
    if answer.in_flight >= limit:
        message = (
            f"{answer.in_flight} account creations are in flight in this organization; AWS allows {limit}"
            " — waiting for one to finish."
        )
    else:
        message = (
            f"{answer.waiting_ahead} earlier request(s) are waiting for one of this organization's"
            f" {limit} account-creation slots ({answer.in_flight} in flight) — waiting its turn."
        )
    raise WaitForQuota(message, delay=slot_recheck_delay(waiting_ahead=answer.waiting_ahead, limit=limit))


def slot_recheck_delay(*, waiting_ahead: int, limit: int) -> float:
    """How long a creation refused a slot waits before asking again: the recheck interval
    once per ``limit`` creations waiting ahead of it, so the waiters of an organization ask
    about ``limit`` times an interval between them however many they are (a hundred waiters
    asking every interval fill the workers and the queues with nothing but asking), and never
    so long that it would lose its place in the line. Jitter keeps them from asking at once."""
    recheck = _slot_recheck_seconds()
    longest = _WAITER_FORGOTTEN_AFTER.total_seconds() / 3  # with the jitter, half the time it keeps its place
    rounds = 1 + waiting_ahead // max(limit, 1)
    return max(recheck, min(recheck * rounds, longest)) * random.uniform(1.0, 1.5)


def peak_in_flight(intervals: Iterable[tuple[datetime, datetime | None]]) -> int:
    """The most intervals ``[taken, released)`` open at one moment (None: still open)."""
    # At one instant: slots handed on are released first (not an overlap), then slots are
    # taken, then slots taken and released at that same instant are released.
    changes: list[tuple[datetime, int, int]] = []
    for taken, released in intervals:
        changes.append((taken, 1, +1))
        if released is not None:
            changes.append((released, 2 if released <= taken else 0, -1))
    peak = current = 0
    for _, _, change in sorted(changes):
        current += change
        peak = max(peak, current)
    return peak


def slots_in_use() -> list[tuple[dict[str, str], float]]:
    """The ``bespoke_organizations_slots_in_use`` gauge: creations holding a slot, per payer
    (every active payer, 0 included)."""
    from django.db.models import Count

    from apps.accounts.models import Payer

    holding = dict(
        ManagedAccount.objects.filter(_holding(clock.now()))
        .values_list("payer__name")
        .annotate(n=Count("id"))
        .values_list("payer__name", "n")
    )
    names = Payer.objects.filter(active=True).values_list("name", flat=True)
    return [({"payer": name}, float(holding.get(name, 0))) for name in names]
