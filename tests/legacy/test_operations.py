"""Each of Tailor's 11 operations through the facade, signed as its clients sign: the
lookups read the accounts context, ``PUT /accounts`` changes the account's tags (in the
Organization too), and each per-service ``PUT`` starts a ``reapply`` command of its step
and answers as Tailor did. Refusals: a payer not granted, an account outside the grants,
a missing scope, a bad header or body, a command already running."""

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.accounts.models import AccountCommand, ManagedAccount
from apps.cloud.emulator import ensure_organization
from apps.network import api as network
from tests.conftest import EmulatedAws
from tests.legacy.conftest import PAYER
from tests.legacy.signing import FIXTURES, SignedClient, fixture
from tests.legacy.test_wire import REQUEST, TEMPLATES, accepted, assert_bad_request
from tests.support import factories
from tests.support.bus import drain

pytestmark = pytest.mark.django_db

ALIAS = {"accountCbAlias": PAYER}
BLUEPRINT = ["iam", "cloudtrail", "config", "vpc", "flow_logs", "dns"]


def inquirer_keys() -> tuple[list[str], list[str]]:
    lines = [
        line for line in (FIXTURES / "inquirer-account-keys.txt").read_text().splitlines() if not line.startswith("#")
    ]
    by_id, _, by_address = lines
    return by_id.split(), by_address.split()


@pytest.fixture
def blueprint(acme: accounts.PayerSummary) -> None:
    accounts.blueprint_save(payer_name=PAYER, name="baseline", definition={"steps": [{"name": n} for n in BLUEPRINT]})


@pytest.fixture
def account(acme: accounts.PayerSummary, blueprint: None) -> ManagedAccount:
    """An active account of acme-main, vended for Tailor's example request."""
    request = factories.request(
        payer=PAYER,
        environment="tst",
        requestor__department="Internal Affairs",
        tags__project_name="My Super Fancy Project",
        tags__cost_center="1000100099",
    )
    created: ManagedAccount = factories.account(
        payer_name=PAYER,
        environment="tst",
        request_id=request.id,
        email="aws.acme.msfp.tst@mycompany.com",
        tags={"project_name": "My Super Fancy Project", "cost_center": "1000100099"},
    )
    return created


def assert_not_found(response: Any, message: str = "Not found") -> None:
    assert response.status_code == 404, response.content
    assert response.content == TEMPLATES[message]


def assert_forbidden(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response.content == TEMPLATES["Forbidden"]


def assert_accepted(response: Any) -> str:
    """Tailor's 202 for its per-service PUTs (docs/vpcflowlogs.md), field by field."""
    assert response.status_code == 202, response.content
    documented = fixture("vpcflowlogs-response.json")
    body = response.json()
    assert set(body) == set(documented)
    assert (body["code"], body["message"]) == (documented["code"], documented["message"])
    request_id: str = body["requestId"]
    return request_id


# --- GET /accounts -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["plain", "dashed"])
def test_an_account_is_found_by_its_id(signed: SignedClient, account: ManagedAccount, form: str) -> None:
    aws_id = account.aws_account_id
    wanted = aws_id if form == "plain" else f"{aws_id[:4]}-{aws_id[4:8]}-{aws_id[8:]}"
    response = signed.call("GET", "/accounts", query={"accountid": wanted}, headers=ALIAS)

    assert response.status_code == 200, response.content
    found = response.json()
    assert list(found) == inquirer_keys()[0]
    assert found == {
        "accountId": aws_id,
        "accountStatus": "ACTIVE",
        "emailAddress": "aws.acme.msfp.tst@mycompany.com",
        "regulated": False,
        "accountName": "My Super Fancy Project",
        "costCenter": "1000100099",
        "environment": "tst",
        "department": "Internal Affairs",
        "requestorName": found["requestorName"],
        "technicalContactName": found["technicalContactName"],
    }
    assert found["requestorName"]
    assert found["technicalContactName"]


def test_an_account_is_found_by_its_email_address(signed: SignedClient, account: ManagedAccount) -> None:
    response = signed.call("GET", "/accounts", query={"emailaddress": account.email}, headers=ALIAS)
    assert response.status_code == 200
    assert response.json()["accountId"] == account.aws_account_id


def test_an_unknown_account_answers_account_not_found(signed: SignedClient, account: ManagedAccount) -> None:
    for query in ({"accountid": "000000000000"}, {"emailaddress": "nobody@mycompany.com"}, {"ipaddress": "10.9.9.9"}):
        assert_not_found(signed.call("GET", "/accounts", query=query, headers=ALIAS), "Account not found")


def test_another_payers_account_is_not_found(make_signed: Callable[..., SignedClient], account: ManagedAccount) -> None:
    factories.payer("other")
    other_account = factories.account(payer_name="other")
    both = make_signed(payers=(PAYER, "other"))
    query = {"accountid": other_account.aws_account_id}
    assert_not_found(both.call("GET", "/accounts", query=query, headers=ALIAS), "Account not found")


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"accountid": "123"}, ALIAS),
        ({"ipaddress": "10.0.0"}, ALIAS),
        ({}, ALIAS),
        ({"accountid": "123456789012"}, {}),
        ({"accountid": "123456789012"}, {"accountCbAlias": ""}),
    ],
)
def test_a_bad_lookup_answers_4000(signed: SignedClient, account: ManagedAccount, query: Any, headers: Any) -> None:
    assert_bad_request(signed.call("GET", "/accounts", query=query, headers=headers))


def test_an_unknown_payer_answers_4000_to_an_operator(acme: accounts.PayerSummary, make_api_client: Any) -> None:
    operator = make_api_client(all_payers=True)
    response = operator.get("/accounts?accountid=123456789012", HTTP_ACCOUNTCBALIAS="nope")
    assert_bad_request(response)


def test_a_payer_not_granted_answers_4030(make_signed: Callable[..., SignedClient], account: ManagedAccount) -> None:
    factories.payer("other")
    response = make_signed(payers=("other",)).call(
        "GET", "/accounts", query={"accountid": account.aws_account_id}, headers=ALIAS
    )
    assert_forbidden(response)


def test_a_lookup_needs_accounts_read(make_signed: Callable[..., SignedClient], account: ManagedAccount) -> None:
    response = make_signed("requests:read").call(
        "GET", "/accounts", query={"accountid": account.aws_account_id}, headers=ALIAS
    )
    assert_forbidden(response)


# --- GET /accounts/ids -----------------------------------------------------------------------------


def test_the_payers_active_account_ids(signed: SignedClient, account: ManagedAccount) -> None:
    factories.account(payer_name=PAYER, status=ManagedAccount.Status.CLOSED)
    factories.payer("other")
    factories.account(payer_name="other")

    response = signed.call("GET", "/accounts/ids", headers=ALIAS)

    assert response.status_code == 202  # as Tailor's API Gateway answered it
    assert response.json() == {"accountCbAlias": PAYER, "accountIds": [account.aws_account_id], "count": 1}


def test_account_ids_need_the_header(signed: SignedClient, account: ManagedAccount) -> None:
    assert_bad_request(signed.call("GET", "/accounts/ids"))


# --- PUT /accounts ---------------------------------------------------------------------------------


def test_put_accounts_changes_the_accounts_tags_in_its_organization(
    signed: SignedClient, aws: EmulatedAws, blueprint: None
) -> None:
    factories.payer(
        PAYER, management_account_id=ensure_organization(), email_division="acme", email_domain="mycompany.com"
    )
    org = aws.client("organizations")
    status = org.create_account(Email="tagged@mycompany.com", AccountName="tagged")["CreateAccountStatus"]
    aws_id = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    account = factories.account(payer_name=PAYER, aws_account_id=aws_id, tags={"cost_center": "1000100099"})
    body = {"accountUpdate": {"accountTagCostCenter": "2000200099", "accountTagLongProjectName": "Renamed", "x": 1}}

    response = signed.call("PUT", "/accounts", body, query={"accountid": aws_id}, headers=ALIAS)

    assert_accepted(response)
    account.refresh_from_db()
    assert account.tags == {"cost_center": "2000200099", "project_name": "Renamed"}
    tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=aws_id)["Tags"]}
    assert tags == {"cost_center": "2000200099", "project_name": "Renamed"}


@pytest.mark.parametrize(
    "body", [{}, {"accountUpdate": {}}, {"accountUpdate": {"accountTagCostCenter": "12"}}, {"accountUpdate": "x"}]
)
def test_put_accounts_refuses_a_bad_update(signed: SignedClient, account: ManagedAccount, body: Any) -> None:
    response = signed.call("PUT", "/accounts", body, query={"accountid": account.aws_account_id}, headers=ALIAS)
    assert_bad_request(response)


def test_put_accounts_needs_accounts_admin(make_signed: Callable[..., SignedClient], account: ManagedAccount) -> None:
    body = {"accountUpdate": {"accountTagCostCenter": "2000200099"}}
    response = make_signed("accounts:read").call(
        "PUT", "/accounts", body, query={"accountid": account.aws_account_id}, headers=ALIAS
    )
    assert_forbidden(response)
    account.refresh_from_db()
    assert account.tags["cost_center"] == "1000100099"


# --- The per-service PUTs ----------------------------------------------------------------------------

SERVICE_PUTS = [
    ("/vpcflowlogs", lambda a: {"region": "us-east-1", "stackName": "core-vpc", "accountId": a}, ALIAS, ["flow_logs"]),
    ("/vpcdns", lambda a: {"region": "us-east-1", "vpcId": "vpc-0123456789abcdef0", "accountId": a}, {}, ["dns"]),
    ("/configrules", lambda a: {"accountId": a}, ALIAS, ["config"]),
    ("/cloudtrail/{}", lambda a: None, {}, ["cloudtrail"]),
    ("/config/{}", lambda a: None, {}, ["config"]),
]


@pytest.mark.parametrize(("path", "body", "headers", "steps"), SERVICE_PUTS)
def test_each_per_service_put_starts_a_reapply_command_of_its_step(
    signed: SignedClient, account: ManagedAccount, path: str, body: Any, headers: Any, steps: list[str]
) -> None:
    aws_id = account.aws_account_id
    response = signed.call("PUT", path.format(aws_id), body(aws_id), headers=headers)

    command_id = assert_accepted(response)
    command = AccountCommand.objects.get(id=command_id)
    assert (command.account_id, command.command, command.params["steps"]) == (account.id, "reapply", steps)

    again = signed.call("PUT", path.format(aws_id), body(aws_id), headers=headers)
    assert again.status_code == 409  # a command is still running on the account
    assert again.content == TEMPLATES["Duplicate request"]


def test_a_put_on_a_blueprint_without_the_step_answers_4040(signed: SignedClient, account: ManagedAccount) -> None:
    assert_not_found(signed.call("PUT", f"/cloudability/{account.aws_account_id}"))
    assert not AccountCommand.objects.exists()


@pytest.mark.parametrize(("path", "body", "headers", "steps"), SERVICE_PUTS)
def test_a_per_service_put_on_another_tenants_account_answers_4040(
    make_signed: Callable[..., SignedClient], path: str, body: Any, headers: Any, steps: list[str], blueprint: None
) -> None:
    factories.payer("other")
    theirs = factories.account(payer_name="other").aws_account_id
    response = make_signed().call("PUT", path.format(theirs), body(theirs), headers=headers)
    assert_not_found(response)
    assert not AccountCommand.objects.exists()


@pytest.mark.parametrize(("path", "body", "headers", "steps"), SERVICE_PUTS)
def test_a_per_service_put_needs_accounts_admin(
    make_signed: Callable[..., SignedClient], account: ManagedAccount, path: str, body: Any, headers: Any, steps: Any
) -> None:
    aws_id = account.aws_account_id
    assert_forbidden(make_signed("accounts:read").call("PUT", path.format(aws_id), body(aws_id), headers=headers))


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/vpcflowlogs", {"region": "us-east-1", "accountId": "{}"}, ALIAS),  # no stackName
        ("/vpcflowlogs", {"region": "us-east-1", "stackName": "core-vpc", "accountId": "{}"}, {}),  # no header
        ("/vpcdns", {"region": "nowhere", "vpcId": "vpc-0123456789abcdef0", "accountId": "{}"}, {}),
        ("/vpcdns", {"region": "us-east-1", "vpcId": "subnet-1", "accountId": "{}"}, {}),
        ("/configrules", {"accountId": "12"}, ALIAS),
        ("/cloudtrail/12", None, {}),
    ],
)
def test_a_bad_per_service_put_answers_4000(
    signed: SignedClient, account: ManagedAccount, path: str, body: Any, headers: Any
) -> None:
    if body is not None:
        body = json.loads(json.dumps(body).replace("{}", account.aws_account_id))
    assert_bad_request(signed.call("PUT", path, body, headers=headers))
    assert not AccountCommand.objects.exists()


def test_a_command_is_reported_by_requeststatus_with_its_own_task(
    signed: SignedClient, account: ManagedAccount
) -> None:
    aws_id = account.aws_account_id
    body = {"region": "us-east-1", "stackName": "core-vpc", "accountId": aws_id}
    command_id = assert_accepted(signed.call("PUT", "/vpcflowlogs", body, headers=ALIAS))
    documented = fixture("requeststatus-response.json")

    response = signed.call("GET", f"/requeststatus/{command_id}")

    assert response.status_code == 200
    status = response.json()
    assert set(status) == set(documented)
    assert list(status["taskStatus"]) == list(documented["taskStatus"])
    assert status == {
        "status": "in_progress",
        "accountName": "My Super Fancy Project",
        "accountId": aws_id,
        "taskStatus": {"vpcFlowLogs": "in_progress"},
    }


# --- A vended account end to end: found by an address of its VPC, its flow logs reapplied -----------


def test_a_vended_account_is_found_by_ip_and_a_reapply_completes(signed: SignedClient, aws: EmulatedAws) -> None:
    aws.client("s3").create_bucket(Bucket="acme-log-archive")
    factories.payer(
        PAYER,
        management_account_id=ensure_organization(),
        email_division="acme",
        email_domain="mycompany.com",
        log_archive_bucket="acme-log-archive",
    )
    network.pool_create(payer=PAYER, region="us-east-1", cidr="10.64.0.0/16")
    network.pool_create(payer=PAYER, region="us-west-2", cidr="10.65.0.0/16")
    accounts.blueprint_save(
        payer_name=PAYER, name="baseline", definition={"steps": [{"name": n} for n in ["vpc", "flow_logs"]]}
    )
    two_regions = {"accountRequest": {**REQUEST["accountRequest"], "accountRegion": ["us-east-1", "us-west-2"]}}
    request_id = accepted(signed.call("POST", "/accounts", two_regions))
    drain()
    account = accounts.account_of_request(request_id=request_id)
    assert account is not None
    assert account.status == "active"
    lookup = signed.call("GET", "/accounts", query={"emailaddress": account.email}, headers=ALIAS)
    assert lookup.status_code == 200
    status = signed.call("GET", f"/requeststatus/{request_id}").json()
    assert status["taskStatus"]["vpc"] == "complete"
    cidrs = _vpc_cidrs(signed, request_id)
    assert set(cidrs) == {"us-east-1", "us-west-2"}  # a VPC in each region Tailor's array named
    address = str(next(ipaddress.ip_network(cidrs["us-west-2"]).hosts()))

    found = signed.call("GET", "/accounts", query={"ipaddress": address}, headers=ALIAS)

    assert found.status_code == 200, found.content
    assert list(found.json()) == inquirer_keys()[1]
    assert found.json()["accountId"] == account.aws_account_id
    assert found.json()["vpcCidr"] == cidrs

    body = {"region": "us-east-1", "stackName": "core-vpc", "accountId": account.aws_account_id}
    command_id = assert_accepted(signed.call("PUT", "/vpcflowlogs", body, headers=ALIAS))
    drain()
    documented = fixture("requeststatus-response.json")
    after = signed.call("GET", f"/requeststatus/{command_id}").json()
    assert after["status"] == documented["status"]
    assert after["taskStatus"] == documented["taskStatus"]
    assert after["accountId"] == account.aws_account_id


def _vpc_cidrs(signed: SignedClient, request_id: str) -> dict[str, str]:
    from apps.workflow import api as workflow

    run = workflow.run_for_request(request_id=request_id)
    assert run is not None
    [vpc] = [step for step in run.steps if step.name == "vpc"]
    return {str(region): str(built["cidr"]) for region, built in vpc.outputs["vpcs"].items()}


def test_a_signed_per_service_put_is_audited_under_its_client(signed: SignedClient, account: ManagedAccount) -> None:
    from apps.audit.models import AuditEntry

    command_id = assert_accepted(signed.call("PUT", f"/cloudtrail/{account.aws_account_id}"))

    [entry] = AuditEntry.objects.all()
    assert entry.action == "PUT legacy-cloudtrail"
    assert entry.status_code == 202
    assert entry.actor.startswith("tailor-0 (")
    assert command_id
