"""Operators see IP pools with their utilisation, add pools through the same checks as the
service, and can only look at allocations."""

import pytest
from django.test import Client

from apps.network import api as network
from apps.network.models import Allocation, IpPool, VlanAllocation, VlanPool
from apps.network.services import cidr_allocate
from apps.network.vlans import vlan_allocate

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(db: None) -> network.IpPoolSummary:
    pool = network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16", name="demo pool")
    cidr_allocate(payer="demo", region="us-east-1", request_id="r1", prefix_length=24)
    cidr_allocate(payer="demo", region="us-east-1", request_id="r2", prefix_length=23)
    return pool


def test_the_pool_list_shows_utilisation(admin_client: Client, pool: network.IpPoolSummary) -> None:
    page = admin_client.get("/admin/network/ippool/")

    assert page.status_code == 200
    assert "1.2% (768 of 65536 addresses)" in page.content.decode()
    detail = admin_client.get(f"/admin/network/ippool/{pool.id}/change/")
    assert detail.status_code == 200
    assert "1.2% (768 of 65536 addresses)" in detail.content.decode()


def test_a_pool_is_added_through_the_service(admin_client: Client, pool: network.IpPoolSummary) -> None:
    answer = admin_client.post(
        "/admin/network/ippool/add/",
        {"payer": "demo", "region": "us-west-2", "cidr": "10.80.0.0/16", "name": "west"},
    )

    assert answer.status_code == 302
    added = IpPool.objects.get(region="us-west-2")
    assert (added.cidr, added.name, added.id != "") == ("10.80.0.0/16", "west", True)


@pytest.mark.parametrize(("cidr", "error"), [("10.64.128.0/20", "overlaps"), ("10.64.0.1/16", "not a CIDR")])
def test_an_overlapping_or_invalid_pool_is_refused_in_the_form(
    admin_client: Client, pool: network.IpPoolSummary, cidr: str, error: str
) -> None:
    answer = admin_client.post(
        "/admin/network/ippool/add/", {"payer": "demo", "region": "us-east-1", "cidr": cidr, "name": ""}
    )

    assert answer.status_code == 200
    assert error in answer.content.decode()
    assert IpPool.objects.count() == 1


def test_allocations_are_read_only(admin_client: Client, pool: network.IpPoolSummary) -> None:
    allocation = Allocation.objects.get(request_id="r1")

    assert admin_client.get("/admin/network/allocation/").status_code == 200
    assert admin_client.get(f"/admin/network/allocation/{allocation.pk}/change/").status_code == 200
    assert admin_client.get("/admin/network/allocation/add/").status_code == 403
    admin_client.post(f"/admin/network/allocation/{allocation.pk}/change/", {"state": "released"})
    assert Allocation.objects.get(pk=allocation.pk).state == Allocation.State.ALLOCATED


def test_a_vlan_pool_is_added_through_the_service_and_its_allocations_are_read_only(admin_client: Client) -> None:
    answer = admin_client.post(
        "/admin/network/vlanpool/add/",
        {"payer": "demo", "connection_id": "dxcon-fgabc123", "first_vlan": "100", "last_vlan": "199"},
    )

    assert answer.status_code == 302
    assert vlan_allocate(connection_id="dxcon-fgabc123", request_id="r1") == 100
    allocation = VlanAllocation.objects.get(request_id="r1")
    assert admin_client.get("/admin/network/vlanpool/").status_code == 200
    assert admin_client.get(f"/admin/network/vlanallocation/{allocation.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/network/vlanallocation/{allocation.pk}/delete/").status_code == 403


def test_a_vlan_range_direct_connect_refuses_is_refused_in_the_form(admin_client: Client) -> None:
    answer = admin_client.post(
        "/admin/network/vlanpool/add/",
        {"payer": "demo", "connection_id": "dxcon-fgabc123", "first_vlan": "300", "last_vlan": "200"},
    )

    assert answer.status_code == 200
    assert "within 1-4094" in answer.content.decode()
    assert not VlanPool.objects.exists()
