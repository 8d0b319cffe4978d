"""Commands on existing accounts — reapply, adopt, move, close — from the API through
the workflow to the emulated Organization, messages delivered by ``drain()``."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AccountCommand, ManagedAccount, Payer
from apps.intake.models import AccountRequest
from apps.kernel import clock, ids
from apps.kernel.models import DeadLetter
from apps.notifications.models import EmailNotification
from apps.workflow.models import Run
from tests.accounts.conftest import Vended
from tests.conftest import EmulatedAws
from tests.support.bus import drain

pytestmark = pytest.mark.django_db


def issue(api: APIClient, account: str, body: Any, *, expect: int = 202) -> dict[str, Any]:
    response = api.post(f"/v1/accounts/{account}/commands", body, format="json")
    assert response.status_code == expect, response.json()
    return dict(response.json())


def follow(api: APIClient, issued: dict[str, Any]) -> dict[str, Any]:
    drain()
    response = api.get(issued["status_url"])
    assert response.status_code == 200, response.json()
    return dict(response.json())


def steps_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["name"], step["state"]) for step in document["run"]["steps"]]


# --- reapply ------------------------------------------------------------------------------


def test_reapply_puts_back_a_trail_deleted_outside_bespoke(
    vend: Callable[..., Vended], api: APIClient, aws: EmulatedAws
) -> None:
    vended = vend()
    cloudtrail = aws.member_client("cloudtrail", account_id=vended.aws_account_id)
    cloudtrail.delete_trail(Name="bespoke-trail")
    assert cloudtrail.describe_trails()["trailList"] == []

    issued = issue(api, vended.account_id, {"command": "reapply", "steps": ["cloudtrail"]})

    assert (issued["status"], issued["command"], issued["params"]) == ("running", "reapply", {"steps": ["cloudtrail"]})
    assert issued["status_url"].endswith(f"/v1/accounts/{vended.account_id}/commands/{issued['id']}")
    done = follow(api, issued)
    assert done["status"] == "succeeded", done
    assert done["finished_at"]
    assert steps_of(done) == [("cloudtrail", "succeeded"), ("verify", "succeeded")]
    assert [t["Name"] for t in cloudtrail.describe_trails()["trailList"]] == ["bespoke-trail"]
    assert cloudtrail.get_trail_status(Name="bespoke-trail")["IsLogging"] is True
    # The command's run is part of the account's history; nothing else took it for a request.
    history = api.get(f"/v1/accounts/{vended.aws_account_id}").json()
    assert [(c["id"], c["status"]) for c in history["commands"]] == [(issued["id"], "succeeded")]
    assert history["commands"][0]["run"]["steps"][0]["name"] == "cloudtrail"
    assert Run.objects.get(request_id=issued["id"]).kind == "account_command"
    assert AccountRequest.objects.get(id=vended.request_id).status == "succeeded"
    assert not AccountRequest.objects.filter(id=issued["id"]).exists()
    assert not EmailNotification.objects.filter(request_id=issued["id"]).exists()
    assert DeadLetter.objects.count() == 0


def test_reapply_runs_the_chosen_steps_in_the_blueprints_order_then_verify(
    vend: Callable[..., Vended], api: APIClient
) -> None:
    vended = vend()

    done = follow(api, issue(api, vended.aws_account_id, {"command": "reapply", "steps": ["config", "iam"]}))

    assert done["status"] == "succeeded"
    assert steps_of(done) == [("iam", "succeeded"), ("config", "succeeded"), ("verify", "succeeded")]
    assert [s["depends_on"] for s in done["run"]["steps"]] == [[], [], ["iam", "config"]]


def test_reapplying_a_step_the_blueprint_lacks_is_a_400(vend: Callable[..., Vended], api: APIClient) -> None:
    vended = vend()

    error = issue(api, vended.account_id, {"command": "reapply", "steps": ["vpc"]}, expect=400)

    assert error["code"] == "step_not_in_blueprint"
    assert AccountCommand.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"command": "explode"},
        {},
        ["reapply"],
        {"command": "reapply"},
        {"command": "reapply", "steps": []},
        {"command": "reapply", "steps": ["teleport"]},
        {"command": "reapply", "steps": ["create_account"]},
        {"command": "reapply", "steps": "cloudtrail"},
        {"command": "reapply", "steps": ["cloudtrail"], "colour": "red"},
        {"command": "move", "ou": "r-abcd"},
        {"command": "adopt", "environment": "dev"},
        {"command": "adopt", "environment": "dev", "region": "mars"},
    ],
)
def test_a_bad_command_body_is_a_400(demo_payer: Any, api: APIClient, aws: EmulatedAws, body: Any) -> None:
    now = clock.now()
    account = ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        aws_account_id="444444444444",
        email="a@example.com",
        name="a",
        status=ManagedAccount.Status.ACTIVE,
        created_at=now,
        updated_at=now,
    )

    error = issue(api, account.id, body, expect=400)

    assert error["code"] == "validation_error"
    assert AccountCommand.objects.count() == 0


def test_commands_need_the_accounts_admin_scope(
    vend: Callable[..., Vended], make_api_client: Callable[..., APIClient]
) -> None:
    vended = vend()

    response = make_api_client("accounts:read").post(
        f"/v1/accounts/{vended.account_id}/commands", {"command": "reapply", "steps": ["iam"]}, format="json"
    )

    assert response.status_code == 403


def test_a_command_on_an_unknown_account_is_a_404(demo_payer: Any, api: APIClient) -> None:
    error = issue(api, "no-such-account", {"command": "reapply", "steps": ["iam"]}, expect=404)

    assert error["code"] == "account_not_found"


def test_a_second_command_while_one_runs_is_a_409(vend: Callable[..., Vended], api: APIClient) -> None:
    vended = vend()
    first = issue(api, vended.account_id, {"command": "reapply", "steps": ["iam"]})

    error = issue(api, vended.account_id, {"command": "reapply", "steps": ["iam"]}, expect=409)

    assert (error["code"], error["extra"]["command_id"]) == ("command_in_progress", first["id"])
    assert follow(api, first)["status"] == "succeeded"
    issue(api, vended.account_id, {"command": "reapply", "steps": ["iam"]})  # free again


# --- adopt --------------------------------------------------------------------------------


def _outside_account(aws: EmulatedAws, name: str = "legacy") -> str:
    org = aws.client("organizations")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    return str(
        org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    )


def test_adopting_an_account_bespoke_never_saw_baselines_it(
    vend: Callable[..., Vended], api: APIClient, aws: EmulatedAws
) -> None:
    vend()  # the payer's blueprint is in place
    aws_account_id = _outside_account(aws)
    body = {"command": "adopt", "payer": "demo", "environment": "dev", "region": "us-east-1"}

    issued = issue(api, aws_account_id, body)
    done = follow(api, issued)

    assert done["status"] == "succeeded", done
    assert steps_of(done) == [
        ("adopt_account", "succeeded"),
        ("iam", "succeeded"),
        ("cloudtrail", "succeeded"),
        ("config", "succeeded"),
        ("verify", "succeeded"),
    ]
    iam = aws.member_client("iam", account_id=aws_account_id)
    roles = {role["RoleName"] for role in iam.list_roles()["Roles"]}
    assert {"bespoke-admin", "bespoke-read-only", "bespoke-network", "bespoke-security-audit"} <= roles
    account = api.get(f"/v1/accounts/{aws_account_id}").json()
    assert (account["status"], account["source"], account["environment"]) == ("active", "adopted", "dev")
    assert account["email"] == "legacy@example.com"
    assert account["ou_id"].startswith("r-")
    assert DeadLetter.objects.count() == 0


def test_adopting_an_unmanaged_row_needs_no_payer(
    vend: Callable[..., Vended], api: APIClient, aws: EmulatedAws
) -> None:
    vend()
    aws_account_id = _outside_account(aws)
    now = clock.now()
    found = ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        aws_account_id=aws_account_id,
        email="legacy@example.com",
        name="legacy",
        source=ManagedAccount.Source.DISCOVERED,
        status=ManagedAccount.Status.UNMANAGED,
        created_at=now,
        updated_at=now,
    )

    done = follow(api, issue(api, found.id, {"command": "adopt", "environment": "tst", "region": "us-east-1"}))

    assert done["status"] == "succeeded", done
    found.refresh_from_db()
    assert (found.status, found.source, found.environment) == ("active", "adopted", "tst")


def test_adopting_an_unknown_account_needs_its_payer_and_an_account_of_its_organization(
    demo_payer: Any, api: APIClient
) -> None:
    body = {"command": "adopt", "environment": "dev", "region": "us-east-1"}

    assert issue(api, "210987654321", body, expect=400)["code"] == "invalid_command"
    assert issue(api, "210987654321", {**body, "payer": "demo"}, expect=404)["code"] == "account_not_found"
    assert issue(api, "210987654321", {**body, "payer": "nobody"}, expect=400)["code"] == "invalid_command"
    assert ManagedAccount.objects.count() == 0


def test_adopting_in_an_environment_the_payer_does_not_allow_is_a_400(
    demo_payer: Any, api: APIClient, aws: EmulatedAws
) -> None:
    aws_account_id = _outside_account(aws)

    error = issue(
        api,
        aws_account_id,
        {"command": "adopt", "payer": "demo", "environment": "lab", "region": "us-east-1"},
        expect=400,
    )

    assert "environment" in error["extra"]["fields"]
    assert AccountCommand.objects.count() == 0
    # The account looked up in the Organization was not recorded either: a later close
    # (or anything else) finds nothing to act on.
    assert ManagedAccount.objects.count() == 0
    closing = issue(api, aws_account_id, {"command": "close", "confirm": aws_account_id}, expect=404)
    assert closing["code"] == "account_not_found"


def test_adopting_an_active_account_is_a_409(vend: Callable[..., Vended], api: APIClient) -> None:
    vended = vend()

    error = issue(api, vended.account_id, {"command": "adopt", "environment": "dev", "region": "us-east-1"}, expect=409)

    assert error["code"] == "account_state_conflict"


# --- move ---------------------------------------------------------------------------------


def test_move_puts_the_account_in_the_ou_and_records_it(
    vend: Callable[..., Vended], api: APIClient, aws: EmulatedAws
) -> None:
    vended = vend()
    org = aws.client("organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]

    done = follow(api, issue(api, vended.account_id, {"command": "move", "ou": ou}))

    assert done["status"] == "succeeded", done
    assert steps_of(done) == [("move_account", "succeeded")]
    assert org.list_parents(ChildId=vended.aws_account_id)["Parents"][0]["Id"] == ou
    assert api.get(f"/v1/accounts/{vended.account_id}").json()["ou_id"] == ou
    # Moving it where it already is changes nothing and succeeds.
    again = follow(api, issue(api, vended.account_id, {"command": "move", "ou": ou}))
    assert again["status"] == "succeeded"
    assert org.list_parents(ChildId=vended.aws_account_id)["Parents"][0]["Id"] == ou


def test_a_move_to_an_ou_that_does_not_exist_fails_the_command(vend: Callable[..., Vended], api: APIClient) -> None:
    vended = vend()

    done = follow(api, issue(api, vended.account_id, {"command": "move", "ou": "ou-abcd-12345678"}))

    assert done["status"] == "failed"
    assert done["failure"].startswith("move_account:")
    assert ManagedAccount.objects.get(id=vended.account_id).status == "active"


# --- close --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"), [({}, "validation_error"), ({"confirm": "111111111111"}, "confirmation_mismatch")]
)
def test_close_without_the_right_confirmation_is_a_400(
    vend: Callable[..., Vended], api: APIClient, body: dict[str, str], code: str
) -> None:
    vended = vend()

    error = issue(api, vended.account_id, {"command": "close", **body}, expect=400)

    assert error["code"] == code
    assert ManagedAccount.objects.get(id=vended.account_id).status == "active"
    assert AccountCommand.objects.count() == 0


def approve(operator: APIClient, issued: dict[str, Any], *, expect: int = 202) -> dict[str, Any]:
    response = operator.post(f"{issued['status_url']}/approve", {}, format="json")
    assert response.status_code == expect, response.json()
    return dict(response.json())


@pytest.fixture
def second_operator(make_api_client: Callable[..., APIClient]) -> APIClient:
    """Another operator: the second pair of eyes."""
    return make_api_client("operations:admin", "accounts:read", payers=("demo",))


def test_close_waits_for_a_second_person_then_suspends_the_account(
    vend: Callable[..., Vended], api: APIClient, aws: EmulatedAws, second_operator: APIClient
) -> None:
    vended = vend()

    issued = issue(api, vended.account_id, {"command": "close", "confirm": vended.aws_account_id})

    assert (issued["status"], issued["run"]) == ("awaiting_approval", None)
    assert issued["requested_by"].startswith("client:")
    assert ManagedAccount.objects.get(id=vended.account_id).status == "active"
    drain()
    assert (
        aws.client("organizations").describe_account(AccountId=vended.aws_account_id)["Account"]["Status"] == "ACTIVE"
    )
    # Four eyes: whoever issued it cannot approve it.
    refused = approve(api, issued, expect=403)
    assert refused["code"] == "four_eyes"
    assert AccountCommand.objects.get(id=issued["id"]).status == "awaiting_approval"

    approved = approve(second_operator, issued)

    assert approved["status"] == "running"
    assert approved["approved_by"].startswith("client:")
    assert approved["approved_at"]
    assert ManagedAccount.objects.get(id=vended.account_id).status == "closing"
    assert approve(second_operator, issued, expect=409)["code"] == "command_state_conflict"
    done = follow(api, issued)
    assert done["status"] == "succeeded", done
    assert steps_of(done) == [("close_account", "succeeded")]
    described = aws.client("organizations").describe_account(AccountId=vended.aws_account_id)["Account"]
    assert described["Status"] == "SUSPENDED"
    account = api.get(f"/v1/accounts/{vended.account_id}").json()
    assert account["status"] == "closed"
    assert account["closed_at"]
    for body in (
        {"command": "reapply", "steps": ["iam"]},
        {"command": "close", "confirm": vended.aws_account_id},
        {"command": "move", "ou": "ou-abcd-12345678"},
    ):
        assert issue(api, vended.account_id, body, expect=409)["code"] == "account_state_conflict"


def test_a_close_awaiting_approval_blocks_other_commands_and_can_be_rejected(
    vend: Callable[..., Vended], api: APIClient, aws: EmulatedAws, second_operator: APIClient
) -> None:
    vended = vend()
    issued = issue(api, vended.account_id, {"command": "close", "confirm": vended.aws_account_id})
    assert issue(api, vended.account_id, {"command": "reapply", "steps": ["iam"]}, expect=409)["code"] == (
        "command_in_progress"
    )

    rejected = second_operator.post(f"{issued['status_url']}/reject", {"reason": "still in use"}, format="json")

    assert rejected.status_code == 200, rejected.json()
    assert rejected.json()["status"] == "cancelled"
    assert "still in use" in rejected.json()["failure"]
    assert approve(second_operator, issued, expect=409)["code"] == "command_state_conflict"
    drain()
    assert ManagedAccount.objects.get(id=vended.account_id).status == "active"
    assert (
        aws.client("organizations").describe_account(AccountId=vended.aws_account_id)["Account"]["Status"] == "ACTIVE"
    )
    issue(api, vended.account_id, {"command": "reapply", "steps": ["iam"]})  # free again


def test_an_operator_of_another_payer_can_neither_see_nor_approve_a_close(
    vend: Callable[..., Vended], api: APIClient, make_api_client: Callable[..., APIClient]
) -> None:
    vended = vend()
    issued = issue(api, vended.account_id, {"command": "close", "confirm": vended.aws_account_id})
    stranger = make_api_client("operations:admin", "accounts:read", "accounts:admin", payers=("other",))

    assert approve(stranger, issued, expect=404)["code"] == "command_not_found"
    assert stranger.get(issued["status_url"]).status_code == 404
    assert stranger.post(f"{issued['status_url']}/reject", {"reason": "x"}, format="json").status_code == 404
    assert AccountCommand.objects.get(id=issued["id"]).status == "awaiting_approval"


def test_closing_beyond_the_payers_30_day_quota_is_a_409(vend: Callable[..., Vended], api: APIClient) -> None:
    vended = vend()
    Payer.objects.filter(name="demo").update(closures_per_30_days=1)
    now = clock.now()
    ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        aws_account_id="333333333333",
        email="old@example.com",
        name="old",
        status=ManagedAccount.Status.CLOSED,
        closed_at=now - timedelta(days=29),
        created_at=now,
        updated_at=now,
    )

    error = issue(api, vended.account_id, {"command": "close", "confirm": vended.aws_account_id}, expect=409)

    assert error["code"] == "closure_quota_exceeded"
    assert (error["extra"]["quota"], error["extra"]["counted"]) == (1, 1)
    assert ManagedAccount.objects.get(id=vended.account_id).status == "active"
    # A closure older than 30 days no longer counts.
    ManagedAccount.objects.filter(aws_account_id="333333333333").update(closed_at=now - timedelta(days=31))
    issue(api, vended.account_id, {"command": "close", "confirm": vended.aws_account_id})


def test_the_quota_is_checked_again_when_a_close_is_approved(
    vend: Callable[..., Vended], api: APIClient, second_operator: APIClient
) -> None:
    vended = vend()
    issued = issue(api, vended.account_id, {"command": "close", "confirm": vended.aws_account_id})
    Payer.objects.filter(name="demo").update(closures_per_30_days=0)  # lowered meanwhile

    error = approve(second_operator, issued, expect=409)

    assert error["code"] == "closure_quota_exceeded"
    assert AccountCommand.objects.get(id=issued["id"]).status == "awaiting_approval"
    assert ManagedAccount.objects.get(id=vended.account_id).status == "active"


def test_a_closing_account_counts_against_the_quota(vend: Callable[..., Vended], api: APIClient) -> None:
    first = vend()
    second = vend(tags__project_short_name="other")
    Payer.objects.filter(name="demo").update(closures_per_30_days=1)
    issue(api, first.account_id, {"command": "close", "confirm": first.aws_account_id})  # awaiting approval

    error = issue(api, second.account_id, {"command": "close", "confirm": second.aws_account_id}, expect=409)

    assert error["code"] == "closure_quota_exceeded"


# --- admin --------------------------------------------------------------------------------


def test_the_admin_reapplies_an_accounts_whole_baseline(
    vend: Callable[..., Vended], api: APIClient, admin_client: Any
) -> None:
    vended = vend()

    response = admin_client.post(
        "/admin/accounts/managedaccount/",
        {"action": "reapply_baseline", "_selected_action": [vended.account_id]},
        follow=True,
    )

    assert response.status_code == 200
    command = AccountCommand.objects.get(account_id=vended.account_id)
    assert (command.command, command.params, command.client_id, command.requested_by_name) == (
        "reapply",
        {"steps": ["iam", "cloudtrail", "config"]},
        "",
        "user:admin",
    )
    drain()
    command.refresh_from_db()
    assert command.status == "succeeded"
    assert admin_client.get(f"/admin/accounts/accountcommand/{command.id}/change/", follow=True).status_code == 200
    assert admin_client.get("/admin/accounts/managedaccount/?source=vended&environment=dev").status_code == 200
