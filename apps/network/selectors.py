"""Reads of the network context: pools, live allocations, the block that would be given next."""

from collections import defaultdict
from collections.abc import Iterable
from ipaddress import IPv4Network, ip_network

from django.db.models import QuerySet

from apps.network.contracts import PoolUtilisation
from apps.network.models import Allocation, IpPool


def pools_in(*, payer: str, region: str) -> QuerySet[IpPool]:
    """The payer's pools in ``region``, in the order blocks are taken from them (oldest first)."""
    return IpPool.objects.filter(payer=payer, region=region).order_by("created_at", "id")


def live_allocation(*, request_id: str, region: str) -> Allocation | None:
    """The block ``request_id`` holds in ``region``, if any."""
    return Allocation.objects.filter(request_id=request_id, region=region, state=Allocation.State.ALLOCATED).first()


def live_blocks(*, pool: IpPool) -> list[IPv4Network]:
    cidrs = Allocation.objects.filter(pool=pool, state=Allocation.State.ALLOCATED).values_list("cidr", flat=True)
    return [IPv4Network(cidr) for cidr in cidrs]


def lowest_free_block(pool: IPv4Network, taken: Iterable[IPv4Network], prefix_length: int) -> IPv4Network | None:
    """The lowest block of ``prefix_length`` in ``pool``, aligned on its own size, that overlaps
    nothing in ``taken``; ``None`` when there is none."""
    if prefix_length < pool.prefixlen or prefix_length > pool.max_prefixlen:
        return None
    size = 1 << (pool.max_prefixlen - prefix_length)
    cursor = int(pool.network_address)
    end = int(pool.broadcast_address) + 1
    for block in sorted(taken, key=lambda b: int(b.network_address)):
        start, stop = int(block.network_address), int(block.broadcast_address) + 1
        if stop <= cursor:
            continue
        if cursor + size <= start:
            break
        # Overlaps: the next candidate is the first aligned block after this one.
        cursor = -(-stop // size) * size
    if cursor + size > end:
        return None
    return IPv4Network((cursor, prefix_length))


def next_block(*, pools: Iterable[IpPool], prefix_length: int) -> tuple[IpPool, IPv4Network] | None:
    """The pool and block an allocation of ``prefix_length`` would get now."""
    for pool in pools:
        block = lowest_free_block(IPv4Network(pool.cidr), live_blocks(pool=pool), prefix_length)
        if block is not None:
            return pool, block
    return None


def cidr_preview(*, payer: str, region: str, prefix_length: int) -> str | None:
    """The block ``cidr_allocate`` would give now, without reserving it (for dry runs);
    ``None`` when the payer has no pool in the region or no room left."""
    found = next_block(pools=pools_in(payer=payer, region=region), prefix_length=prefix_length)
    return str(found[1]) if found else None


def pool_utilisation(*, pool_ids: Iterable[str] | None = None) -> list[PoolUtilisation]:
    """Per pool: the addresses held by live allocations out of the pool's size."""
    pools = IpPool.objects.all()
    if pool_ids is not None:
        pools = pools.filter(id__in=list(pool_ids))
    allocated: dict[str, int] = defaultdict(int)
    live = Allocation.objects.filter(state=Allocation.State.ALLOCATED, pool__in=pools)
    for pool_id, prefix_length in live.values_list("pool_id", "prefix_length"):
        allocated[pool_id] += 1 << (32 - prefix_length)
    return [
        PoolUtilisation(
            pool_id=pool.id,
            payer=pool.payer,
            region=pool.region,
            cidr=pool.cidr,
            name=pool.name,
            allocated_addresses=allocated[pool.id],
            total_addresses=ip_network(pool.cidr).num_addresses,
        )
        for pool in pools
    ]
