"""VLAN pools: the ``direct_connect`` step takes its VLAN from its connection's pool, one
per account request, never the same twice on a connection; a failed run gives it back and
a retry takes it again. (Direct Connect through botocore's Stubber: moto lacks it.)"""

from collections.abc import Callable

import pytest

from apps.kernel.errors import ApplicationError, PermanentError
from apps.kernel.steps import StepContext
from apps.network import api as network
from apps.network import handlers
from apps.network.models import VlanAllocation
from apps.network.steps import direct_connect as direct_connect_step
from apps.network.vlans import vlan_allocate, vlan_release
from apps.workflow.contracts import RunFailed
from tests.network.test_direct_connect_step import (
    CONNECTION,
    PARAMS,
    Captured,
    DirectConnect,
    direct_connect,
    ec2,
    expect_interfaces,
    interface,
    vpc_id,
)

pytestmark = pytest.mark.django_db

__all__ = ["direct_connect", "ec2", "vpc_id"]  # the Direct Connect step's fixtures, used here too

MakeContext = Callable[..., StepContext]
POOLED = {key: value for key, value in PARAMS.items() if key != "vlan"}


@pytest.fixture
def pool(db: None) -> network.VlanPoolSummary:
    return network.vlan_pool_create(payer="demo", connection_id=CONNECTION, first_vlan=100, last_vlan=102)


def test_two_accounts_on_one_connection_get_two_vlans(
    step_context: MakeContext,
    member_account: str,
    direct_connect: DirectConnect,
    vpc_id: str,
    pool: network.VlanPoolSummary,
) -> None:
    asked: list[Captured] = []
    for vlan in (100, 101):
        expect_interfaces(direct_connect, [])
        asked.append(Captured())
        direct_connect.management.add_response(
            "allocate_private_virtual_interface",
            interface(member_account, state="confirming", vlan=vlan, virtualInterfaceId=f"dxvif-{vlan}"),
            {
                "connectionId": CONNECTION,
                "ownerAccount": member_account,
                "newPrivateVirtualInterfaceAllocation": asked[-1],
            },
        )
        direct_connect.member.add_response("confirm_private_virtual_interface", {"virtualInterfaceState": "pending"})

    first = direct_connect_step.direct_connect(
        step_context("direct_connect", request_id="request-a", vpc_id=vpc_id, step_params=POOLED)
    )
    second = direct_connect_step.direct_connect(
        step_context("direct_connect", request_id="request-b", vpc_id=vpc_id, step_params=POOLED)
    )

    assert (first["vlan"], second["vlan"]) == (100, 101)
    assert [captured.value["vlan"] for captured in asked] == [100, 101]
    live = VlanAllocation.objects.filter(state="allocated").values_list("request_id", "vlan")
    assert sorted(live) == [("request-a", 100), ("request-b", 101)]


def test_asking_again_for_a_request_returns_its_vlan(pool: network.VlanPoolSummary) -> None:
    assert vlan_allocate(connection_id=CONNECTION, request_id="a") == 100
    assert vlan_allocate(connection_id=CONNECTION, request_id="a") == 100
    assert vlan_allocate(connection_id=CONNECTION, request_id="b") == 101


def test_an_exhausted_pool_and_a_connection_without_one_fail_for_good(pool: network.VlanPoolSummary) -> None:
    for request_id in ("a", "b", "c"):
        vlan_allocate(connection_id=CONNECTION, request_id=request_id)

    with pytest.raises(PermanentError) as exhausted:
        vlan_allocate(connection_id=CONNECTION, request_id="d")
    with pytest.raises(PermanentError) as missing:
        vlan_allocate(connection_id="dxcon-other", request_id="d")

    assert (exhausted.value.code, missing.value.code) == ("vlan_pool_exhausted", "no_vlan_pool")


def test_a_failed_run_gives_its_vlan_back_and_a_retry_takes_it_again(pool: network.VlanPoolSummary) -> None:
    vlan_allocate(connection_id=CONNECTION, request_id="a")
    assert vlan_allocate(connection_id=CONNECTION, request_id="b") == 101

    failed = RunFailed(run_id="run-b", request_id="b", step="direct_connect", error_code="x", message="x")
    handlers.on_run_failed(failed)

    assert not VlanAllocation.objects.filter(request_id="b", state="allocated").exists()
    assert vlan_allocate(connection_id=CONNECTION, request_id="b") == 101  # its own again
    vlan_release(request_id="b")
    assert vlan_allocate(connection_id=CONNECTION, request_id="c") == 101  # the lowest free one
    assert vlan_allocate(connection_id=CONNECTION, request_id="b") == 102  # its old one is taken


@pytest.mark.parametrize(("first", "last"), [(0, 10), (10, 4095), (20, 10)])
def test_a_range_direct_connect_refuses_is_refused(db: None, first: int, last: int) -> None:
    with pytest.raises(ApplicationError) as refused:
        network.vlan_pool_create(payer="demo", connection_id=CONNECTION, first_vlan=first, last_vlan=last)

    assert refused.value.code == "invalid_vlan_pool"


def test_a_connection_has_one_pool(pool: network.VlanPoolSummary) -> None:
    assert network.vlan_pool_create(payer="demo", connection_id=CONNECTION, first_vlan=100, last_vlan=102) == pool
    with pytest.raises(ApplicationError) as refused:
        network.vlan_pool_create(payer="demo", connection_id=CONNECTION, first_vlan=200, last_vlan=300)

    assert refused.value.code == "vlan_pool_exists"


def test_the_database_refuses_one_vlan_twice_on_a_connection(pool: network.VlanPoolSummary) -> None:
    from django.db import IntegrityError, transaction

    vlan_allocate(connection_id=CONNECTION, request_id="a")
    first = VlanAllocation.objects.get(request_id="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        VlanAllocation.objects.create(
            id="another", pool_id=first.pool_id, request_id="b", vlan=first.vlan, allocated_at=first.allocated_at
        )
