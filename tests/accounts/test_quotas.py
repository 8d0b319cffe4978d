"""The Organizations quotas' shared limiter: the token bucket, the in-flight creation
slots, and both under concurrent workers against the real database."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from apps.accounts import api as accounts_api
from apps.accounts import quotas
from apps.accounts.models import ManagedAccount, Payer, QuotaBucket
from apps.accounts.services import (
    account_abandon_creation,
    account_release_slot,
    account_start,
    account_update,
)
from apps.kernel import clock
from tests.accounts.conftest import FakeClock
from tests.support import factories
from tests.support.services import need_postgres

ORG = "123456789012"
OTHER_ORG = "210987654321"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def take(organization_id: str = ORG, name: str = "CreateAccount", *, rate: float = 0.1, burst: int = 3) -> float:
    return quotas.take(organization_id=organization_id, name=name, rate_per_second=rate, burst=burst)


# --- Token bucket ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_full_bucket_gives_its_burst_at_once_then_says_how_long_to_wait(fake_clock: FakeClock) -> None:
    assert [take() for _ in range(3)] == [0, 0, 0]

    assert take() == pytest.approx(10.0)
    fake_clock.advance(4)
    assert take() == pytest.approx(6.0)  # a refused take takes nothing: the wait only shrinks


@pytest.mark.django_db
def test_the_bucket_refills_at_its_rate_up_to_its_burst(fake_clock: FakeClock) -> None:
    for _ in range(3):
        take()

    fake_clock.advance(10)
    assert take() == 0
    assert take() == pytest.approx(10.0)

    fake_clock.advance(3600)  # a long quiet spell refills only up to the burst
    assert [take() for _ in range(4)][:3] == [0, 0, 0]
    assert take() > 0
    assert QuotaBucket.objects.get(organization_id=ORG, name="CreateAccount").tokens < 1


@pytest.mark.django_db
def test_the_wait_is_the_time_until_one_whole_token(fake_clock: FakeClock) -> None:
    assert take(name="DescribeCreateAccountStatus", rate=2.0, burst=2) == 0
    assert take(name="DescribeCreateAccountStatus", rate=2.0, burst=2) == 0
    assert take(name="DescribeCreateAccountStatus", rate=2.0, burst=2) == pytest.approx(0.5)

    fake_clock.advance(0.25)
    assert take(name="DescribeCreateAccountStatus", rate=2.0, burst=2) == pytest.approx(0.25)
    fake_clock.advance(0.25)
    assert take(name="DescribeCreateAccountStatus", rate=2.0, burst=2) == 0


@pytest.mark.django_db
def test_a_token_short_by_a_rounding_error_is_a_token_and_no_wait_is_shorter_than_a_millisecond(
    fake_clock: FakeClock,
) -> None:
    take()
    QuotaBucket.objects.update(tokens=1 - 2e-16)
    assert take() == 0

    QuotaBucket.objects.update(tokens=1 - 1e-7)
    assert take() == pytest.approx(0.001)


@pytest.mark.django_db
def test_each_organization_and_quota_has_its_own_bucket(fake_clock: FakeClock) -> None:
    for _ in range(3):
        take(ORG)

    assert take(ORG) > 0
    assert take(OTHER_ORG) == 0
    assert take(ORG, "DescribeCreateAccountStatus", rate=2.0, burst=2) == 0
    assert QuotaBucket.objects.count() == 3


@pytest.mark.django_db
def test_a_clock_that_steps_back_refills_nothing(fake_clock: FakeClock) -> None:
    for _ in range(3):
        take()
    fake_clock.advance(-60)  # another worker's clock a minute behind

    assert take() == pytest.approx(10.0)


@pytest.mark.django_db
@pytest.mark.parametrize(("rate", "burst"), [(0, 3), (-1, 3), (0.1, 0)])
def test_a_quota_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        take(rate=rate, burst=burst)


def test_the_quota_descriptions_say_what_the_limit_is() -> None:
    assert quotas.Quota("CreateAccount", 0.1, 3).describe() == (
        "CreateAccount is limited to one call every 10 seconds per organization (burst 3)"
    )
    assert "2 calls a second" in quotas.Quota("DescribeCreateAccountStatus", 2.0, 2).describe()


def test_the_quotas_default_to_what_organizations_allows(settings: Any) -> None:
    for name in (
        "ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT",
        "ORGANIZATIONS_CREATE_ACCOUNT_RATE",
        "ORGANIZATIONS_CREATE_ACCOUNT_BURST",
        "ORGANIZATIONS_STATUS_POLL_RATE",
        "ORGANIZATIONS_STATUS_POLL_BURST",
    ):
        if hasattr(settings, name):
            delattr(settings, name)

    assert quotas.max_creations_in_flight() == 5
    assert quotas.create_account_quota() == quotas.Quota("CreateAccount", 0.1, 3)
    assert quotas.status_poll_quota() == quotas.Quota("DescribeCreateAccountStatus", 2.0, 2)

    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 2
    settings.ORGANIZATIONS_CREATE_ACCOUNT_RATE = 1.5
    assert quotas.max_creations_in_flight() == 2
    assert quotas.create_account_quota().rate_per_second == 1.5


# --- Peak overlap from recorded intervals -------------------------------------------------


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_peak_in_flight_counts_the_most_intervals_open_at_once() -> None:
    assert quotas.peak_in_flight([]) == 0
    assert quotas.peak_in_flight([(at(0), at(10)), (at(5), at(15)), (at(12), None)]) == 2
    assert quotas.peak_in_flight([(at(0), None), (at(1), None), (at(2), at(3))]) == 3
    # A slot handed on at the same instant is not an overlap; an instant's slot counts.
    assert quotas.peak_in_flight([(at(0), at(10)), (at(10), at(20))]) == 1
    assert quotas.peak_in_flight([(at(0), at(0))]) == 1
    assert quotas.peak_in_flight([(at(0), at(5)), (at(5), at(5)), (at(5), at(6))]) == 2


# --- In-flight creation slots ----------------------------------------------------------------


def make_payer(name: str = "demo", organization_id: str = ORG) -> Payer:
    return factories.payer(
        name, management_account_id=organization_id, allowed_environments=["dev"], allowed_regions=["us-east-1"]
    )


def make_accounts(count: int, *, payer: str = "demo", fake_clock: FakeClock | None = None) -> list[ManagedAccount]:
    made = []
    for index in range(count):
        made.append(
            account_start(
                request_id=f"{payer}-request-{index:03d}",
                payer_name=payer,
                email=f"aws.{payer}.p{index}.dev@example.com",
                name=f"{payer}-p{index}-dev",
            )
        )
        if fake_clock is not None:
            fake_clock.advance(1)  # requests arrive one after the other
    return made


def reserve(account: ManagedAccount, limit: int = 2) -> quotas.SlotAnswer:
    return quotas.creation_slot_reserve(account_id=account.pk, limit=limit)


def holders() -> set[str]:
    now = clock.now()
    return {a.request_id for a in ManagedAccount.objects.all() if quotas.holds_slot(a, now=now)}


@pytest.mark.django_db
def test_slots_are_granted_up_to_the_limit_then_refused(fake_clock: FakeClock) -> None:
    make_payer()
    first, second, third = make_accounts(3, fake_clock=fake_clock)

    assert reserve(first).granted
    assert reserve(second).granted
    refused = reserve(third)

    assert (refused.granted, refused.in_flight, refused.waiting_ahead) == (False, 2, 0)
    assert holders() == {first.request_id, second.request_id}
    third.refresh_from_db()
    assert (third.slot_taken_at, third.slot_requested_at) == (None, fake_clock.now())


@pytest.mark.django_db
def test_asking_again_while_holding_a_slot_takes_nothing_new(fake_clock: FakeClock) -> None:
    make_payer()
    [account] = make_accounts(1)
    reserve(account, limit=1)
    taken = ManagedAccount.objects.get(pk=account.pk).slot_taken_at
    fake_clock.advance(30)

    assert reserve(account, limit=1).granted

    assert ManagedAccount.objects.get(pk=account.pk).slot_taken_at == taken


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", [ManagedAccount.Status.ACTIVE, ManagedAccount.Status.FAILED])
def test_an_account_leaving_creating_gives_its_slot_to_the_next(fake_clock: FakeClock, outcome: str) -> None:
    make_payer()
    first, second = make_accounts(2)
    reserve(first, limit=1)
    assert not reserve(second, limit=1).granted

    fake_clock.advance(60)
    holder = ManagedAccount.objects.get(pk=first.pk)
    account_update(holder, status=outcome)

    holder.refresh_from_db()
    assert holder.slot_released_at == fake_clock.now()
    assert reserve(second, limit=1).granted


@pytest.mark.django_db
def test_releasing_a_slot_twice_keeps_the_first_release(fake_clock: FakeClock) -> None:
    make_payer()
    [account] = make_accounts(1)
    reserve(account)
    account.refresh_from_db()
    account_release_slot(account)
    released = account.slot_released_at
    fake_clock.advance(5)

    account_release_slot(account)
    account_update(account, status=ManagedAccount.Status.ACTIVE)

    account.refresh_from_db()
    assert account.slot_released_at == released


@pytest.mark.django_db
def test_slots_are_counted_per_organization_not_per_payer(fake_clock: FakeClock) -> None:
    make_payer("demo", ORG)
    make_payer("sibling", ORG)  # another billing family in the same organization
    make_payer("elsewhere", OTHER_ORG)
    [demo] = make_accounts(1, payer="demo")
    [sibling] = make_accounts(1, payer="sibling")
    [elsewhere] = make_accounts(1, payer="elsewhere")

    assert reserve(demo, limit=1).granted
    assert not reserve(sibling, limit=1).granted
    assert reserve(elsewhere, limit=1).granted


@pytest.mark.django_db
def test_waiting_requests_get_slots_first_come_first_served(fake_clock: FakeClock) -> None:
    make_payer()
    holder, older, newer = make_accounts(3, fake_clock=fake_clock)
    reserve(holder, limit=1)
    assert not reserve(older, limit=1).granted
    assert not reserve(newer, limit=1).granted

    account_update(ManagedAccount.objects.get(pk=holder.pk), status=ManagedAccount.Status.ACTIVE)
    jumped = reserve(newer, limit=1)  # the newer one happens to ask first

    assert (jumped.granted, jumped.in_flight, jumped.waiting_ahead) == (False, 0, 1)
    assert reserve(older, limit=1).granted
    assert not reserve(newer, limit=1).granted


@pytest.mark.django_db
def test_a_waiter_that_stopped_asking_loses_its_place(fake_clock: FakeClock) -> None:
    make_payer()
    older, newer = make_accounts(2, fake_clock=fake_clock)
    ManagedAccount.objects.filter(pk=older.pk).update(slot_requested_at=fake_clock.now())

    assert not reserve(newer, limit=1).granted
    fake_clock.advance(61)
    assert reserve(newer, limit=1).granted


@pytest.mark.django_db
def test_a_cancelled_request_that_never_reached_aws_frees_its_slot_and_place(fake_clock: FakeClock) -> None:
    make_payer()
    holder, waiter, newest = make_accounts(3, fake_clock=fake_clock)
    reserve(holder, limit=1)
    reserve(waiter, limit=1)

    account_abandon_creation(request_id=holder.request_id)
    account_abandon_creation(request_id=waiter.request_id)
    account_abandon_creation(request_id="no-such-request")

    assert holders() == set()
    assert reserve(newest, limit=1).granted


@pytest.mark.django_db
def test_a_cancelled_request_whose_creation_is_in_flight_keeps_its_slot(fake_clock: FakeClock) -> None:
    make_payer()
    [account] = make_accounts(1)
    reserve(account)
    account_update(ManagedAccount.objects.get(pk=account.pk), create_request_id="car-1")

    account_abandon_creation(request_id=account.request_id)

    assert holders() == {account.request_id}


@pytest.mark.django_db
def test_a_slot_whose_lease_ran_out_no_longer_counts(fake_clock: FakeClock, settings: Any) -> None:
    settings.ORGANIZATIONS_SLOT_LEASE_SECONDS = 600
    make_payer()
    stale, fresh = make_accounts(2)
    reserve(stale, limit=1)

    fake_clock.advance(599)
    assert not reserve(fresh, limit=1).granted
    fake_clock.advance(2)
    assert reserve(fresh, limit=1).granted


@pytest.mark.django_db
def test_the_peak_is_read_per_organization_from_the_recorded_slots(fake_clock: FakeClock) -> None:
    make_payer("demo", ORG)
    make_payer("elsewhere", OTHER_ORG)
    for account in make_accounts(3, payer="demo") + make_accounts(1, payer="elsewhere"):
        reserve(account, limit=5)

    assert accounts_api.creations_in_flight_peak() == 4
    assert accounts_api.creations_in_flight_peak(organization_id=ORG) == 3
    assert accounts_api.creations_in_flight_peak(organization_id=OTHER_ORG) == 1
    assert len(accounts_api.creation_slot_intervals(organization_id=ORG)) == 3


# --- Concurrent workers on the real database ---------------------------------------------------


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; each uses and closes its
    own database connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


# The first and third run on SQLite too (embedded mode: its IMMEDIATE transactions
# serialize the writers), the others need PostgreSQL's row locks.


@pytest.mark.django_db(transaction=True)
def test_concurrent_takes_never_hand_out_more_than_the_burst(fake_clock: FakeClock) -> None:

    waits = run_at_once(16, lambda _: take(rate=0.001, burst=5))

    assert sorted(waits)[:5] == [0, 0, 0, 0, 0]
    assert all(wait > 0 for wait in sorted(waits)[5:])
    assert QuotaBucket.objects.count() == 1  # sixteen first uses made one row


@pytest.mark.django_db(transaction=True)
def test_concurrent_takes_on_a_bucket_that_already_exists_stay_within_the_burst(fake_clock: FakeClock) -> None:
    need_postgres()
    assert take(rate=0.001, burst=4) == 0

    waits = run_at_once(12, lambda _: take(rate=0.001, burst=4))

    assert waits.count(0) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_hold_more_slots_than_the_limit(fake_clock: FakeClock) -> None:
    make_payer()
    accounts = make_accounts(12)

    answers = run_at_once(12, lambda index: reserve(accounts[index], limit=5))

    assert sum(answer.granted for answer in answers) == 5
    assert len(holders()) == 5
    assert sorted(answer.in_flight for answer in answers if not answer.granted) == [5] * 7


@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_and_reservations_keep_the_peak_within_the_limit(fake_clock: FakeClock) -> None:
    need_postgres()
    make_payer()
    accounts = make_accounts(20, fake_clock=fake_clock)
    limit = 3

    def work(index: int) -> bool:
        # Each worker keeps asking; when it gets a slot it "creates" and finishes.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            fake_clock.advance(0.01)
            if reserve(accounts[index], limit=limit).granted:
                fake_clock.advance(0.05)  # the creation takes a while
                account = ManagedAccount.objects.get(pk=accounts[index].pk)
                account_update(account, status=ManagedAccount.Status.ACTIVE)
                return True
            time.sleep(0.001)
        return False

    results = run_at_once(20, work)

    assert results == [True] * 20  # everyone got a slot in the end
    intervals = ManagedAccount.objects.values_list("slot_taken_at", "slot_released_at")
    assert 1 <= quotas.peak_in_flight((taken, released) for taken, released in intervals if taken) <= limit
