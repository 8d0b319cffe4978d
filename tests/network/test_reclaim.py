"""A retried request takes back the block its failed or cancelled run released — unless
another request got it meanwhile, in which case the retry is refused, never doubled."""

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.kernel.errors import PermanentError
from apps.network import api as network
from apps.network.models import Allocation
from apps.network.services import cidr_allocate
from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(db: None) -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")


def allocate(request_id: str) -> str:
    return cidr_allocate(payer="demo", region="us-east-1", request_id=request_id, prefix_length=24)


def test_a_released_block_is_taken_back(pool: None) -> None:
    block = allocate("a")
    network.cidr_release(request_id="a")

    assert network.cidr_reclaim(request_id="a") == {"us-east-1": block}
    assert Allocation.objects.get(request_id="a", state="allocated").cidr == block


def test_nothing_to_reclaim_without_a_released_block_or_with_a_live_one(pool: None) -> None:
    assert network.cidr_reclaim(request_id="never") == {}
    allocate("live")
    assert network.cidr_reclaim(request_id="live") == {}


def test_a_block_another_request_took_cannot_be_reclaimed(pool: None) -> None:
    block = allocate("a")
    network.cidr_release(request_id="a")
    assert allocate("b") == block  # the lowest free block again

    with pytest.raises(PermanentError) as refused:
        network.cidr_reclaim(request_id="a")
    assert refused.value.code == "cidr_taken"


def test_retrying_a_request_whose_block_went_elsewhere_is_refused(
    aws: EmulatedAws, settings: Any, tmp_path: Path
) -> None:
    seed = seed_demo(var_dir=tmp_path)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {seed.token}")
    settings.AWS_FAULTS = "ec2:CreateInternetGateway:AccessDenied"
    first = api.post("/v1/account-requests", request_body(), format="json").json()["id"]
    drain()
    settings.AWS_FAULTS = ""
    assert api.get(f"/v1/account-requests/{first}").json()["status"] == "failed"
    second = api.post("/v1/account-requests", request_body(tags__project_short_name="other"), format="json").json()[
        "id"
    ]
    drain()
    assert api.get(f"/v1/account-requests/{second}").json()["status"] == "succeeded"

    retry = api.post(f"/v1/account-requests/{first}/retry")

    assert retry.status_code == 409, retry.json()
    assert "cidr_taken" in str(retry.json())
    assert api.get(f"/v1/account-requests/{first}").json()["status"] == "failed"
