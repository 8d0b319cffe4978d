"""Writes of the network context: pools, and CIDR blocks allocated from them.

A request holds one block per region it builds in (``cidrs_allocate`` takes them all or
none). A block is never given twice: ``cidr_allocate`` locks the payer's pools in the region
(``SELECT … FOR UPDATE``) before it reads what is taken, so concurrent allocations queue
on the lock and each sees the blocks the others committed; a partial unique constraint
(one live row per pool and CIDR) backs the lock up in the database itself.
"""

from ipaddress import IPv4Network, ip_network

from django.db import transaction

from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, Conflict, PermanentError
from apps.network import selectors
from apps.network.contracts import IpPoolSummary
from apps.network.models import Allocation, IpPool

# AWS accepts VPC CIDR blocks from /16 to /28; a pool may be larger than one VPC.
VPC_PREFIX_RANGE = range(16, 29)
POOL_PREFIX_RANGE = range(8, 29)


def _summary(pool: IpPool) -> IpPoolSummary:
    return IpPoolSummary(id=pool.id, payer=pool.payer, region=pool.region, cidr=pool.cidr, name=pool.name)


def _parse_pool_cidr(cidr: str) -> IPv4Network:
    try:
        network = ip_network(cidr.strip(), strict=True)
    except ValueError as error:
        raise ApplicationError(f"{cidr!r} is not a CIDR block: {error}.", code="invalid_cidr") from None
    if not isinstance(network, IPv4Network):
        raise ApplicationError("An IP pool must be an IPv4 CIDR block.", code="invalid_cidr")
    if network.prefixlen not in POOL_PREFIX_RANGE:
        raise ApplicationError(
            f"An IP pool must be between /{POOL_PREFIX_RANGE.start} and /{POOL_PREFIX_RANGE.stop - 1}.",
            code="invalid_cidr",
        )
    return network


def pool_check(*, payer: str, region: str, cidr: str) -> IpPool | None:
    """Validate a new pool; the identical existing pool, if any. Raises ``ApplicationError``
    (``invalid_cidr``, ``invalid_pool``) or ``Conflict`` (``pool_overlap``)."""
    if not payer or not region:
        raise ApplicationError("An IP pool needs a payer and a region.", code="invalid_pool")
    network = _parse_pool_cidr(cidr)
    for pool in selectors.pools_in(payer=payer, region=region):
        if pool.cidr == str(network):
            return pool
        if IPv4Network(pool.cidr).overlaps(network):
            raise Conflict(
                f"{network} overlaps pool {pool.cidr} of payer {payer} in {region}.",
                code="pool_overlap",
                extra={"pool_id": pool.id, "pool_cidr": pool.cidr},
            )
    return None


@transaction.atomic
def pool_create(*, payer: str, region: str, cidr: str, name: str = "") -> IpPoolSummary:
    """Add an IP pool for ``payer`` in ``region``.

    Idempotent for the same payer, region and CIDR (the existing pool is returned, so seeding
    can run twice); refuses a CIDR overlapping another of the payer's pools in the region.
    """
    # Lock the payer's pools in the region so two overlapping pools can't be added at once
    # (the first pool of a payer and region is guarded by the unique constraint only).
    list(selectors.pools_in(payer=payer, region=region).select_for_update())
    existing = pool_check(payer=payer, region=region, cidr=cidr)
    if existing is not None:
        return _summary(existing)
    pool = IpPool.objects.create(
        id=ids.new_id(),
        payer=payer,
        region=region,
        cidr=str(_parse_pool_cidr(cidr)),
        name=name,
        created_at=clock.now(),
    )
    return _summary(pool)


@transaction.atomic
def cidr_allocate(*, payer: str, region: str, request_id: str, prefix_length: int, cidr: str | None = None) -> str:
    """A block of ``prefix_length`` for ``request_id`` from the payer's pools in ``region``:
    the lowest free block, aligned on its size, of the oldest pool with room.

    Idempotent: a request holds one live block per region, and asking again returns it. ``cidr`` asks
    for that exact block (a VPC an earlier attempt created whose allocation was released
    meanwhile): it is taken again if still free.

    Raises ``PermanentError`` with code ``NoIpPool`` (no pool for the payer in the region),
    ``IpPoolExhausted`` (no room), ``InvalidPrefixLength``, ``CidrTaken``, ``CidrNotInPool`` or
    ``CidrMismatch``.
    """
    # The lock comes first: what is read after it includes every allocation committed by
    # those who held it before.
    pools = list(selectors.pools_in(payer=payer, region=region).select_for_update())
    live = selectors.live_allocation(request_id=request_id, region=region)
    if live is not None:
        if cidr is not None and live.cidr != cidr:
            raise PermanentError(
                f"Request {request_id} holds {live.cidr} in {region}, but its VPC there has {cidr}.",
                code="cidr_mismatch",
            )
        return live.cidr
    if not pools:
        raise PermanentError(f"Payer {payer} has no IP pool in {region}.", code="no_ip_pool")
    if cidr is not None:
        return _claim_exact(pools, request_id=request_id, cidr=cidr)
    if prefix_length not in VPC_PREFIX_RANGE:
        raise PermanentError(
            f"A VPC prefix length must be between /16 and /28, not /{prefix_length}.", code="invalid_prefix_length"
        )
    found = selectors.next_block(pools=pools, prefix_length=prefix_length)
    if found is None:
        names = ", ".join(f"{p.name or p.id} ({p.cidr})" for p in pools)
        raise PermanentError(
            f"IP pool {names} of payer {payer} in {region} has no free /{prefix_length} block left.",
            code="ip_pool_exhausted",
        )
    pool, block = found
    return _insert(pool, request_id=request_id, block=block)


@transaction.atomic
def cidrs_allocate(
    *, payer: str, regions: list[str], request_id: str, prefix_length: int, existing: dict[str, str] | None = None
) -> dict[str, str]:
    """A block for ``request_id`` in each of ``regions`` (``cidr_allocate`` each), all or
    nothing: when one region's allocation is refused (its pool exhausted, say), the
    blocks of the others are not kept either. ``existing`` gives, per region, the CIDR of a
    VPC an earlier attempt created there. Raises ``cidr_allocate``'s errors, naming the
    region."""
    existing = existing or {}
    return {
        region: cidr_allocate(
            payer=payer,
            region=region,
            request_id=request_id,
            prefix_length=prefix_length,
            cidr=existing.get(region),
        )
        for region in regions
    }


def _claim_exact(pools: list[IpPool], *, request_id: str, cidr: str) -> str:
    block = IPv4Network(cidr)
    for pool in pools:
        if block.subnet_of(IPv4Network(pool.cidr)):
            if any(block.overlaps(taken) for taken in selectors.live_blocks(pool=pool)):
                raise PermanentError(f"{cidr} is already allocated to another request.", code="cidr_taken")
            return _insert(pool, request_id=request_id, block=block)
    raise PermanentError(f"{cidr} lies in none of the payer's IP pools.", code="cidr_not_in_pool")


def _insert(pool: IpPool, *, request_id: str, block: IPv4Network) -> str:
    Allocation.objects.create(
        id=ids.new_id(),
        pool=pool,
        request_id=request_id,
        region=pool.region,
        cidr=str(block),
        prefix_length=block.prefixlen,
        state=Allocation.State.ALLOCATED,
        allocated_at=clock.now(),
    )
    return str(block)


@transaction.atomic
def cidr_release(*, request_id: str) -> bool:
    """Give the request's live blocks (one per region) back to their pools. Idempotent:
    False when it holds none."""
    released = Allocation.objects.filter(request_id=request_id, state=Allocation.State.ALLOCATED).update(
        state=Allocation.State.RELEASED, released_at=clock.now()
    )
    return released > 0


@transaction.atomic
def cidr_reclaim(*, request_id: str) -> dict[str, str]:
    """Take back the blocks a request held before its run failed or was cancelled (its
    latest block in each region where it holds none now), so a retried run finds its
    VPCs' CIDRs reserved again: the blocks taken back, by region (empty: nothing to take).
    All or nothing: raises ``PermanentError`` ``CidrTaken`` when another request got one
    of them meanwhile.
    """
    held = set(
        Allocation.objects.filter(request_id=request_id, state=Allocation.State.ALLOCATED).values_list(
            "region", flat=True
        )
    )
    latest: dict[str, Allocation] = {}
    for released in (
        Allocation.objects.select_related("pool")
        .filter(request_id=request_id, state=Allocation.State.RELEASED)
        .order_by("-released_at")
    ):
        if released.region not in held:
            latest.setdefault(released.region, released)
    return {
        region: cidr_allocate(
            payer=released.pool.payer,
            region=region,
            request_id=request_id,
            prefix_length=released.prefix_length,
            cidr=released.cidr,
        )
        for region, released in latest.items()
    }
