"""A dry run validates a request and returns its plan, writing nothing and calling no AWS."""

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.network import api as network
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

BLUEPRINT = {
    "steps": [
        {"name": "iam", "params": {"roles": [{"name": "bespoke-admin"}, {"name": "bespoke-readonly"}]}},
        {"name": "cloudtrail"},
        {
            "name": "config",
            "params": {"rules": ["S3_BUCKET_PUBLIC_READ_PROHIBITED"], "regulated_rules": ["IAM_ROOT_ACCESS_KEY_CHECK"]},
        },
        {"name": "vpc", "params": {"tiers": ["public", "private"]}},
        {"name": "flow_logs"},
        {"name": "dns"},
    ]
}


@pytest.fixture
def payer(db: None) -> str:
    factories.payer(
        "demo", management_account_id="123456789012", allowed_environments=["dev", "prd"], allowed_regions=["us-east-1"]
    )
    accounts.blueprint_save(payer_name="demo", name="default", definition=BLUEPRINT)
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")
    return "demo"


def row_counts() -> dict[str, int]:
    # The audit log records the call itself (every POST is audited), not a change it made.
    return {m._meta.label: m.objects.count() for m in django_apps.get_models() if m._meta.label != "audit.AuditEntry"}


@pytest.fixture
def no_aws() -> Iterator[mock.MagicMock]:
    """Fail the test if anything builds an AWS client."""
    with mock.patch("apps.cloud.api.base_session", side_effect=AssertionError("a dry run called AWS")) as guard:
        yield guard


def dry_run(api: APIClient, body: dict[str, Any]) -> Any:
    return api.post("/v1/account-requests?dry_run=true", body, format="json")


def test_a_dry_run_returns_the_plan_and_writes_nothing(api: APIClient, payer: str, no_aws: mock.MagicMock) -> None:
    before = row_counts()

    response = dry_run(api, request_body())

    assert response.status_code == 200, response.json()
    assert row_counts() == before
    no_aws.assert_not_called()
    plan = response.json()
    assert plan["dry_run"] is True
    assert plan["account_email"] == "aws.demo.msfp.dev@example.com"
    assert plan["blueprint"] == {"name": "default", "version": 1}
    assert plan["cidr"] == "10.64.0.0/24"
    assert plan["waves"] == [
        ["create_account"],
        ["wait_account"],
        ["cloudtrail", "config", "iam", "vpc"],
        ["dns", "flow_logs"],
        ["verify"],
    ]
    steps = {step["name"]: step for step in plan["steps"]}
    assert steps["vpc"]["legacy_name"] == "VPC"
    assert "IAM roles: bespoke-admin, bespoke-readonly" in steps["iam"]["creates"]
    assert steps["config"]["creates"] == [
        "AWS Config recorder and delivery channel",
        "Config rule S3_BUCKET_PUBLIC_READ_PROHIBITED",
    ]


def test_a_regulated_dry_run_shows_the_regulated_rules(api: APIClient, payer: str, no_aws: mock.MagicMock) -> None:
    steps = {s["name"]: s for s in dry_run(api, request_body(regulated=True)).json()["steps"]}

    assert "Config rule IAM_ROOT_ACCESS_KEY_CHECK" in steps["config"]["creates"]


def test_a_dry_run_refuses_what_a_submission_would(api: APIClient, payer: str) -> None:
    assert dry_run(api, request_body(environment="qa")).status_code == 400
    assert dry_run(api, request_body(payer="nobody")).status_code == 400

    first = api.post("/v1/account-requests", request_body(), format="json")
    duplicate = dry_run(api, request_body())
    assert duplicate.status_code == 409
    assert duplicate.json()["extra"]["existing_request_id"] == first.json()["id"]


def test_a_dry_run_warns_when_the_pool_is_full(api: APIClient, payer: str) -> None:
    factories.payer(
        "tiny", management_account_id="123456789012", allowed_environments=["dev"], allowed_regions=["us-east-1"]
    )
    accounts.blueprint_save(payer_name="tiny", name="default", definition=BLUEPRINT)
    network.pool_create(payer="tiny", region="us-east-1", cidr="10.99.0.0/25")

    plan = dry_run(api, request_body(payer="tiny")).json()

    assert plan["cidr"] is None
    assert plan["warnings"] == ["No free /24 in payer tiny's IP pool for us-east-1: the vpc step would fail."]


def test_dry_run_must_be_a_boolean(api: APIClient, payer: str) -> None:
    response = api.post("/v1/account-requests?dry_run=perhaps", request_body(), format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"dry_run": ["Must be true or false."]}
