"""Allocating VPC CIDR blocks from IP pools: lowest free aligned block, one per request,
never the same block twice (also under concurrency, on the real PostgreSQL)."""

import threading
from collections.abc import Callable
from ipaddress import IPv4Network

import pytest
from django.db import IntegrityError, connection, transaction

from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, Conflict, PermanentError
from apps.network import api as network
from apps.network.models import Allocation, IpPool
from apps.network.selectors import lowest_free_block
from apps.network.services import cidr_allocate
from tests.support.services import need_postgres

pytestmark = pytest.mark.django_db

POOL = "10.64.0.0/16"


@pytest.fixture
def pool() -> network.IpPoolSummary:
    return network.pool_create(payer="demo", region="us-east-1", cidr=POOL, name="demo")


def allocate(request_id: str, prefix_length: int = 24, *, payer: str = "demo", region: str = "us-east-1") -> str:
    return cidr_allocate(payer=payer, region=region, request_id=request_id, prefix_length=prefix_length)


def live_cidrs() -> list[str]:
    return sorted(Allocation.objects.filter(state=Allocation.State.ALLOCATED).values_list("cidr", flat=True))


# --- The block-finding rule --------------------------------------------------------------


@pytest.mark.parametrize(
    ("taken", "prefix_length", "expected"),
    [
        ([], 24, "10.0.0.0/24"),
        (["10.0.0.0/24"], 24, "10.0.1.0/24"),
        (["10.0.0.0/24"], 23, "10.0.2.0/23"),  # aligned on its own size, not right after the /24
        (["10.0.1.0/24"], 24, "10.0.0.0/24"),  # a hole below a taken block is used first
        (["10.0.1.0/24"], 23, "10.0.2.0/23"),
        (["10.0.0.0/23", "10.0.3.0/24"], 24, "10.0.2.0/24"),
        (["10.0.0.0/25"], 25, "10.0.0.128/25"),
        ([f"10.0.{i}.0/24" for i in range(16)], 24, None),  # full
        ([], 19, None),  # bigger than the pool
    ],
)
def test_the_lowest_free_aligned_block_is_chosen(taken: list[str], prefix_length: int, expected: str | None) -> None:
    found = lowest_free_block(IPv4Network("10.0.0.0/20"), [IPv4Network(t) for t in taken], prefix_length)
    assert (str(found) if found else None) == expected


# --- Allocating and releasing ------------------------------------------------------------


def test_blocks_are_handed_out_lowest_first_without_overlap(pool: network.IpPoolSummary) -> None:
    assert [allocate("r1"), allocate("r2", 23), allocate("r3")] == ["10.64.0.0/24", "10.64.2.0/23", "10.64.1.0/24"]
    assert live_cidrs() == ["10.64.0.0/24", "10.64.1.0/24", "10.64.2.0/23"]


def test_allocating_again_for_the_same_request_returns_its_block(pool: network.IpPoolSummary) -> None:
    first = allocate("r1")
    allocate("r2")

    assert allocate("r1") == first
    assert allocate("r1", 23) == first  # the request's live block, whatever is asked again
    assert Allocation.objects.filter(request_id="r1").count() == 1


def test_a_released_block_is_given_out_again(pool: network.IpPoolSummary) -> None:
    first = allocate("r1")
    allocate("r2")

    assert network.cidr_release(request_id="r1") is True
    assert network.cidr_release(request_id="r1") is False  # idempotent
    assert allocate("r3") == first
    released = Allocation.objects.get(request_id="r1")
    assert (released.state, released.released_at is not None) == (Allocation.State.RELEASED, True)


def test_a_request_whose_block_was_released_gets_a_new_one(pool: network.IpPoolSummary) -> None:
    allocate("r1")
    network.cidr_release(request_id="r1")

    assert allocate("r1") == "10.64.0.0/24"
    assert Allocation.objects.filter(request_id="r1").count() == 2
    assert Allocation.objects.filter(request_id="r1", state=Allocation.State.ALLOCATED).count() == 1


def test_an_exhausted_pool_is_a_permanent_error_naming_the_pool_and_size() -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/23", name="tiny")
    allocate("r1")
    allocate("r2")

    with pytest.raises(PermanentError) as raised:
        allocate("r3")

    assert raised.value.code == "ip_pool_exhausted"
    assert "tiny" in raised.value.message
    assert "10.64.0.0/23" in raised.value.message
    assert "/24" in raised.value.message
    assert Allocation.objects.count() == 2


def test_a_payer_without_a_pool_in_the_region_gets_no_ip_pool(pool: network.IpPoolSummary) -> None:
    with pytest.raises(PermanentError) as raised:
        allocate("r1", region="us-west-2")
    assert raised.value.code == "no_ip_pool"

    with pytest.raises(PermanentError) as raised:
        allocate("r1", payer="other")
    assert raised.value.code == "no_ip_pool"
    assert Allocation.objects.count() == 0


@pytest.mark.parametrize("prefix_length", [15, 29])
def test_a_prefix_length_aws_refuses_for_a_vpc_is_a_permanent_error(
    pool: network.IpPoolSummary, prefix_length: int
) -> None:
    with pytest.raises(PermanentError) as raised:
        allocate("r1", prefix_length)
    assert raised.value.code == "invalid_prefix_length"


def test_a_second_pool_takes_over_when_the_first_is_full() -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/24")
    network.pool_create(payer="demo", region="us-east-1", cidr="10.65.0.0/16")

    assert [allocate("r1"), allocate("r2")] == ["10.64.0.0/24", "10.65.0.0/24"]


def test_an_exact_block_is_claimed_again_only_while_free(pool: network.IpPoolSummary) -> None:
    claimed = cidr_allocate(payer="demo", region="us-east-1", request_id="r1", prefix_length=24, cidr="10.64.7.0/24")
    assert claimed == "10.64.7.0/24"

    with pytest.raises(PermanentError) as raised:
        cidr_allocate(payer="demo", region="us-east-1", request_id="r2", prefix_length=24, cidr="10.64.7.0/25")
    assert raised.value.code == "cidr_taken"
    with pytest.raises(PermanentError) as raised:
        cidr_allocate(payer="demo", region="us-east-1", request_id="r1", prefix_length=24, cidr="10.64.8.0/24")
    assert raised.value.code == "cidr_mismatch"


def test_the_database_refuses_a_second_live_row_for_the_same_block(pool: network.IpPoolSummary) -> None:
    allocate("r1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Allocation.objects.create(
            id=ids.new_id(),
            pool=IpPool.objects.get(),
            request_id="r2",
            cidr="10.64.0.0/24",
            prefix_length=24,
            allocated_at=clock.now(),
        )


# --- Previews and utilisation ------------------------------------------------------------


def test_a_preview_names_the_next_block_and_writes_nothing(pool: network.IpPoolSummary) -> None:
    allocate("r1")

    assert network.cidr_preview(payer="demo", region="us-east-1", prefix_length=24) == "10.64.1.0/24"
    assert network.cidr_preview(payer="demo", region="us-east-1", prefix_length=24) == "10.64.1.0/24"
    assert network.cidr_preview(payer="demo", region="us-west-2", prefix_length=24) is None
    assert network.cidr_preview(payer="demo", region="us-east-1", prefix_length=8) is None
    assert live_cidrs() == ["10.64.0.0/24"]
    assert allocate("r2") == "10.64.1.0/24"


def test_utilisation_counts_live_addresses_per_pool(pool: network.IpPoolSummary) -> None:
    other = network.pool_create(payer="demo", region="us-west-2", cidr="10.80.0.0/20")
    allocate("r1")
    allocate("r2", 23)
    allocate("r3")
    network.cidr_release(request_id="r3")

    usage = {u.pool_id: u for u in network.pool_utilisation()}

    assert (usage[pool.id].allocated_addresses, usage[pool.id].total_addresses) == (256 + 512, 65536)
    assert usage[pool.id].fraction == pytest.approx(768 / 65536)
    assert (usage[other.id].allocated_addresses, usage[other.id].fraction) == (0, 0.0)


# --- Pools ------------------------------------------------------------------------------


def test_a_pool_is_created_once_for_the_same_range(pool: network.IpPoolSummary) -> None:
    again = network.pool_create(payer="demo", region="us-east-1", cidr=POOL)
    assert again == pool
    assert IpPool.objects.count() == 1


@pytest.mark.parametrize("cidr", ["10.64.0.0/17", "10.0.0.0/8", "10.64.128.0/24"])
def test_a_pool_overlapping_another_of_the_same_payer_and_region_is_refused(
    pool: network.IpPoolSummary, cidr: str
) -> None:
    with pytest.raises(Conflict) as raised:
        network.pool_create(payer="demo", region="us-east-1", cidr=cidr)
    assert raised.value.code == "pool_overlap"
    assert IpPool.objects.count() == 1


def test_the_same_range_is_fine_for_another_payer_or_region(pool: network.IpPoolSummary) -> None:
    network.pool_create(payer="other", region="us-east-1", cidr=POOL)
    network.pool_create(payer="demo", region="us-west-2", cidr=POOL)
    assert IpPool.objects.count() == 3


@pytest.mark.parametrize("cidr", ["10.64.0.1/16", "not-a-cidr", "fd00::/48", "10.64.0.0/30", "10.0.0.0/7"])
def test_an_invalid_pool_range_is_refused(cidr: str) -> None:
    with pytest.raises(ApplicationError) as raised:
        network.pool_create(payer="demo", region="us-east-1", cidr=cidr)
    assert raised.value.code == "invalid_cidr"
    assert IpPool.objects.count() == 0


# --- Concurrency, on the real PostgreSQL -------------------------------------------------


def run_together(count: int, work: Callable[[int], str]) -> tuple[list[str | None], list[BaseException]]:
    """Run ``work(i)`` in ``count`` threads released at once; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list[str | None] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_allocations_get_fifty_distinct_blocks() -> None:
    need_postgres()
    network.pool_create(payer="demo", region="us-east-1", cidr=POOL)

    results, errors = run_together(50, lambda i: allocate(f"request-{i:02d}"))

    assert errors == []
    blocks = [IPv4Network(r) for r in results if r]
    assert len(blocks) == 50
    assert len(set(blocks)) == 50
    assert all(b.subnet_of(IPv4Network(POOL)) and b.prefixlen == 24 for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert sorted(blocks) == list(IPv4Network(POOL).subnets(new_prefix=24))[:50]  # the lowest 50, no gaps
    assert len(live_cidrs()) == 50


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_for_one_request_get_one_block() -> None:
    need_postgres()
    network.pool_create(payer="demo", region="us-east-1", cidr=POOL)

    results, errors = run_together(10, lambda i: allocate("same-request"))

    assert errors == []
    assert set(results) == {"10.64.0.0/24"}
    assert Allocation.objects.filter(request_id="same-request").count() == 1
