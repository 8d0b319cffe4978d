from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.accounts.models import Blueprint, BlueprintVersion
from tests.support import factories

pytestmark = pytest.mark.django_db

IAM_ONLY = {"steps": [{"name": "iam", "params": {"roles": [{"name": "admin"}]}}]}
NETWORK = {"steps": [{"name": "vpc"}, {"name": "flow_logs"}, {"name": "dns"}]}


@pytest.fixture
def payer(db: None) -> str:
    factories.payer(
        "demo", management_account_id="123456789012", allowed_environments=["dev", "prd"], allowed_regions=["us-east-1"]
    )
    return "demo"


def test_a_changed_definition_is_a_new_version_and_the_old_one_is_kept(payer: str) -> None:
    first = accounts.blueprint_save(payer_name=payer, name="default", definition=IAM_ONLY)
    second = accounts.blueprint_save(payer_name=payer, name="default", definition=NETWORK)
    unchanged = accounts.blueprint_save(payer_name=payer, name="default", definition=NETWORK, description="same steps")

    assert (first.version, second.version, unchanged.version) == (1, 2, 2)
    assert Blueprint.objects.count() == 1
    versions = {v.version: v.definition for v in BlueprintVersion.objects.all()}
    assert versions == {1: IAM_ONLY, 2: NETWORK}


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"steps": [{"name": "teleport"}]}, "'teleport' is not a step"),
        ({"steps": [{"name": "flow_logs"}]}, "not in the plan: vpc"),
        ({"steps": [{"name": "iam"}, {"name": "iam"}]}, "unique"),
        ({"steps": [{"name": "iam", "depends_on": ["config"]}, {"name": "config", "depends_on": ["iam"]}]}, "cycle"),
        ({"steps": [{"name": "iam", "params": []}]}, "'params' must be an object"),
        ({"steps": [{"name": "iam", "max_attempts": 0.5}]}, "max_attempts"),
        ({"steps": [{"name": "iam", "colour": "red"}]}, "unknown keys: colour"),
        ({"steps": [{"name": "create_account"}]}, "is not a step a blueprint can use"),
        ({"stages": []}, 'one key, "steps"'),
        ([], 'one key, "steps"'),
    ],
)
def test_invalid_definitions_are_refused_with_a_reason(payer: str, definition: Any, message: str) -> None:
    with pytest.raises(accounts.InvalidBlueprint, match=message):
        accounts.blueprint_save(payer_name=payer, name="broken", definition=definition)
    assert not Blueprint.objects.exists()


def test_the_environment_blueprint_wins_over_the_default(payer: str) -> None:
    accounts.blueprint_save(payer_name=payer, name="default", definition=IAM_ONLY)
    accounts.blueprint_save(payer_name=payer, name="production", definition=NETWORK, environment="prd")

    assert accounts.blueprint_for(payer=payer, environment="dev", regulated=False).name == "default"  # type: ignore[union-attr]
    assert accounts.blueprint_for(payer=payer, environment="prd", regulated=False).name == "production"  # type: ignore[union-attr]


def test_regulated_requests_prefer_the_stricter_blueprint_and_fall_back(payer: str) -> None:
    accounts.blueprint_save(payer_name=payer, name="default", definition=IAM_ONLY)
    assert accounts.blueprint_for(payer=payer, environment="dev", regulated=True).name == "default"  # type: ignore[union-attr]

    accounts.blueprint_save(payer_name=payer, name="regulated", definition=NETWORK, regulated=True)
    assert accounts.blueprint_for(payer=payer, environment="dev", regulated=True).name == "regulated"  # type: ignore[union-attr]
    assert accounts.blueprint_for(payer=payer, environment="dev", regulated=False).name == "default"  # type: ignore[union-attr]


def test_a_payer_without_blueprints_vends_bare_accounts(payer: str) -> None:
    assert accounts.blueprint_for(payer=payer, environment="dev", regulated=False) is None


def test_the_plan_pins_the_version_current_when_it_is_resolved(payer: str) -> None:
    accounts.blueprint_save(payer_name=payer, name="default", definition=IAM_ONLY)
    pinned = accounts.blueprint_for(payer=payer, environment="dev", regulated=False)
    accounts.blueprint_save(payer_name=payer, name="default", definition=NETWORK)

    assert pinned is not None
    assert (pinned.version, [s["name"] for s in pinned.steps]) == (1, ["iam"])
