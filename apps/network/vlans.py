"""VLAN pools: each Direct Connect connection hands out its VLAN ids one per account
request, like IP pools hand out CIDR blocks — never the same id twice on a connection
(the pool is locked, ``SELECT … FOR UPDATE``, before what is taken is read; a partial
unique constraint backs the lock up), given back when the request's run fails or is
cancelled, and taken again by the same request on a retry while it is still free."""

from django.db import transaction

from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, PermanentError
from apps.network.contracts import VlanPoolSummary
from apps.network.models import VlanAllocation, VlanPool

VLAN_RANGE = range(1, 4095)  # what Direct Connect accepts


def _summary(pool: VlanPool) -> VlanPoolSummary:
    return VlanPoolSummary(
        id=pool.id,
        payer=pool.payer,
        connection_id=pool.connection_id,
        first_vlan=pool.first_vlan,
        last_vlan=pool.last_vlan,
    )


@transaction.atomic
def vlan_pool_create(*, payer: str, connection_id: str, first_vlan: int, last_vlan: int) -> VlanPoolSummary:
    """The VLAN ids ``first_vlan``…``last_vlan`` of ``connection_id`` for ``payer``'s accounts.

    Idempotent for the same payer, connection and range (the existing pool is returned);
    a connection has one pool (``vlan_pool_exists`` otherwise). Raises ``ApplicationError``
    ``invalid_vlan_pool`` for a range Direct Connect does not accept.
    """
    if not payer or not connection_id:
        raise ApplicationError("A VLAN pool needs a payer and a connection.", code="invalid_vlan_pool")
    if first_vlan not in VLAN_RANGE or last_vlan not in VLAN_RANGE or first_vlan > last_vlan:
        raise ApplicationError(
            f"A VLAN pool is a range within 1-4094, not {first_vlan}-{last_vlan}.", code="invalid_vlan_pool"
        )
    existing = VlanPool.objects.select_for_update().filter(connection_id=connection_id).first()
    if existing is not None:
        if (existing.payer, existing.first_vlan, existing.last_vlan) != (payer, first_vlan, last_vlan):
            raise ApplicationError(
                f"Connection {connection_id} already has the VLAN pool {existing}.", code="vlan_pool_exists"
            )
        return _summary(existing)
    pool = VlanPool.objects.create(
        id=ids.new_id(),
        payer=payer,
        connection_id=connection_id,
        first_vlan=first_vlan,
        last_vlan=last_vlan,
        created_at=clock.now(),
    )
    return _summary(pool)


@transaction.atomic
def vlan_allocate(*, connection_id: str, request_id: str) -> int:
    """A VLAN id of ``connection_id`` for ``request_id``: the one it holds, else the one it
    held last (a retried run) if still free, else the lowest free one.

    Raises ``PermanentError`` ``no_vlan_pool`` (the connection has none) or
    ``vlan_pool_exhausted``.
    """
    pool = VlanPool.objects.select_for_update().filter(connection_id=connection_id).first()
    if pool is None:
        raise PermanentError(
            f"Connection {connection_id} has no VLAN pool: an operator adds one, or the blueprint names the vlan.",
            code="no_vlan_pool",
        )
    mine = VlanAllocation.objects.filter(pool=pool, request_id=request_id)
    live = mine.filter(state=VlanAllocation.State.ALLOCATED).first()
    if live is not None:
        return live.vlan
    taken = set(pool.allocations.filter(state=VlanAllocation.State.ALLOCATED).values_list("vlan", flat=True))
    earlier = mine.order_by("-released_at").values_list("vlan", flat=True).first()
    if earlier is not None and earlier not in taken:
        return _insert(pool, request_id=request_id, vlan=earlier)
    for vlan in range(pool.first_vlan, pool.last_vlan + 1):
        if vlan not in taken:
            return _insert(pool, request_id=request_id, vlan=vlan)
    raise PermanentError(
        f"The VLAN pool of connection {connection_id} ({pool.first_vlan}-{pool.last_vlan}) has no free VLAN left.",
        code="vlan_pool_exhausted",
    )


def _insert(pool: VlanPool, *, request_id: str, vlan: int) -> int:
    VlanAllocation.objects.create(
        id=ids.new_id(),
        pool=pool,
        request_id=request_id,
        vlan=vlan,
        state=VlanAllocation.State.ALLOCATED,
        allocated_at=clock.now(),
    )
    return vlan


@transaction.atomic
def vlan_release(*, request_id: str) -> bool:
    """Give the request's VLAN ids back to their pools. Idempotent: False when it holds none."""
    released = VlanAllocation.objects.filter(request_id=request_id, state=VlanAllocation.State.ALLOCATED).update(
        state=VlanAllocation.State.RELEASED, released_at=clock.now()
    )
    return released > 0
