"""A request names its regions: ``regions: [...]`` (the primary first) or one ``region``;
each must be one the payer allows; they travel in ``AccountRequested`` to the run, and a
dry run shows the block each region's VPC would get."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage
from apps.network import api as network
from tests.intake.test_validation import assert_refused
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

URL = "/v1/account-requests"


def with_regions(regions: Any, **overrides: Any) -> dict[str, Any]:
    body = request_body(**overrides)
    del body["region"]
    body["regions"] = regions
    return body


def test_several_regions_are_accepted_and_carried_to_the_run(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = api.post(URL, with_regions(["us-west-2", "us-east-1"]), format="json")

    assert response.status_code == 202, response.content
    request = AccountRequest.objects.get(id=response.json()["id"])
    assert request.region == "us-west-2"  # the primary region is the first
    [event] = OutboxMessage.objects.filter(type="AccountRequested")
    assert event.envelope["payload"]["regions"] == ["us-west-2", "us-east-1"]
    assert event.envelope["payload"]["region"] == "us-west-2"
    status = api.get(f"{URL}/{request.id}").json()
    assert (status["region"], status["regions"]) == ("us-west-2", ["us-west-2", "us-east-1"])


def test_one_region_is_still_accepted_as_one(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = api.post(URL, request_body(region="us-west-2"), format="json")

    assert response.status_code == 202, response.content
    [event] = OutboxMessage.objects.filter(type="AccountRequested")
    assert event.envelope["payload"]["regions"] == ["us-west-2"]


def test_region_may_come_with_regions_as_its_first(api: APIClient, payer: accounts.PayerSummary) -> None:
    agreeing = with_regions(["us-east-1", "us-west-2"])
    agreeing["region"] = "us-east-1"
    assert api.post(URL, agreeing, format="json").status_code == 202


def test_region_with_regions_but_not_its_first_is_refused(api: APIClient, payer: accounts.PayerSummary) -> None:
    disagreeing = with_regions(["us-east-1", "us-west-2"])
    disagreeing["region"] = "us-west-2"
    assert_refused(api.post(URL, disagreeing, format="json"), "region")


@pytest.mark.parametrize(
    "regions",
    [
        ["us-east-1", "eu-west-1"],  # one the payer does not allow
        ["us-east-1", "us-east-1"],  # repeated
        [],  # none
        "us-east-1",  # not a list
        ["us-east-1"] * 11,  # more than ten
    ],
)
def test_bad_regions_are_refused_on_regions(api: APIClient, payer: accounts.PayerSummary, regions: Any) -> None:
    assert_refused(api.post(URL, with_regions(regions), format="json"), "regions")


def test_a_region_the_payer_does_not_allow_names_it(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = api.post(URL, with_regions(["us-east-1", "eu-west-1"]), format="json")

    assert "eu-west-1" in response.json()["extra"]["fields"]["regions"][0]


def test_a_dry_run_shows_each_regions_block(api: APIClient, payer: accounts.PayerSummary) -> None:
    accounts.blueprint_save(payer_name="demo", name="default", definition={"steps": [{"name": "vpc"}]})
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")

    plan = api.post(f"{URL}?dry_run=true", with_regions(["us-east-1", "us-west-2"]), format="json").json()

    assert plan["cidr"] == "10.64.0.0/24"
    assert plan["cidrs"] == {"us-east-1": "10.64.0.0/24", "us-west-2": None}
    assert plan["warnings"] == ["No free /24 in payer demo's IP pool for us-west-2: the vpc step would fail."]
    [vpc] = [step for step in plan["steps"] if step["name"] == "vpc"]
    assert [line for line in vpc["creates"] if line.startswith("VPC")] == [
        "VPC /24 in us-east-1 with 4 subnets over 2 AZs (public, private), internet gateway, NAT gateway, route tables",
        "VPC /24 in us-west-2 with 4 subnets over 2 AZs (public, private), internet gateway, NAT gateway, route tables",
    ]
