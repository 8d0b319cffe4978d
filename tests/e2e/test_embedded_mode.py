"""End to end in the embedded mode's footing, in this process: the API answers, the
outbox relays after commit onto the in-process broker, Celery worker threads run the
handlers and steps, and moto's server (over a socket) is AWS."""

import json
from pathlib import Path
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from rest_framework.test import APIClient

from apps.kernel.models import OutboxMessage
from apps.notifications.api import verify_signature
from tasks.demo import seed_demo
from tasks.embedded import worker_threads
from tests.conftest import EmulatedAws
from tests.support.bus import purge_in_process_broker
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.webhooks import webhook_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _empty_broker() -> None:
    """What earlier tests relayed to the in-process broker is not this test's work."""
    purge_in_process_broker()


def test_post_returns_before_the_work_and_the_run_succeeds(api: APIClient, demo_payer: Any, aws: EmulatedAws) -> None:
    with worker_threads(concurrency=2):
        accepted = api.post("/v1/account-requests", request_body(), format="json")
        assert accepted.status_code == 202
        assert accepted.json()["status"] == "accepted"

        status = wait_for(
            lambda: api.get(accepted["Location"]).json(),
            until=lambda body: body["status"] in ("succeeded", "failed"),
            timeout=30,
        )

    assert status["status"] == "succeeded", status
    assert {step["name"]: step["state"] for step in status["steps"]} == {
        "create_account": "succeeded",
        "wait_account": "succeeded",
    }
    account_id = status["account"]["id"]
    emails = {a["Id"]: a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert emails[account_id] == "aws.demo.msfp.dev@example.com"
    assert aws.member_client("sts", account_id=account_id).get_caller_identity()["Account"] == account_id
    # Everything recorded was relayed by the after-commit path.
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_the_demo_blueprint_builds_a_complete_account_and_tells_everyone_once(
    aws: EmulatedAws, settings: Any, tmp_path: Path
) -> None:
    settings.MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
    seed = seed_demo(var_dir=tmp_path)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {seed.token}")
    with webhook_receiver() as receiver, worker_threads(concurrency=4):
        hook = api.post(
            "/v1/webhooks", {"url": receiver.url, "events": ["run.succeeded", "step.succeeded"]}, format="json"
        )
        assert hook.status_code == 201, hook.json()
        accepted = api.post("/v1/account-requests", request_body(), format="json")
        status = wait_for(
            lambda: api.get(accepted["Location"]).json(),
            until=lambda body: body["status"] in ("succeeded", "failed"),
            timeout=90,
        )
        wait_for(lambda: [r for r in receiver.requests if b'"run.succeeded"' in r.body], until=bool, timeout=30)

    assert status["status"] == "succeeded", status
    states = {step["name"]: step["state"] for step in status["steps"]}
    assert states == dict.fromkeys(
        [
            "create_account",
            "wait_account",
            "ou_placement",
            "service_control_policies",
            "account_hygiene",
            "security_services",
            "budget",
            "iam",
            "cloudtrail",
            "config",
            "support",
            "vpc",
            "flow_logs",
            "dns",
            "account_validation",
            "notify",
            "verify",
        ],
        "succeeded",
    )
    account_id = status["account"]["id"]
    outputs = {step["name"]: step["outputs"] for step in status["steps"]}
    assert outputs["vpc"]["cidr"] == "10.64.0.0/24"
    # Built in the member account, as the blueprint says.
    roles = {r["RoleName"] for r in aws.member_client("iam", account_id=account_id).list_roles()["Roles"]}
    assert {"bespoke-admin", "bespoke-read-only", "bespoke-network", "bespoke-security-audit"} <= roles
    trail = aws.member_client("cloudtrail", account_id=account_id).get_trail_status(Name="bespoke-trail")
    assert trail["IsLogging"] is True
    vpcs = aws.member_client("ec2", account_id=account_id).describe_vpcs()["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.64.0.0/24"]  # the default VPC is gone
    # Governed: in its environment's OU under the payer's SCPs, with the hygiene settings.
    org = aws.client("organizations")
    [parent] = org.list_parents(ChildId=account_id)["Parents"]
    ou = org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]
    assert (ou["Name"], outputs["ou_placement"]["ou_path"]) == ("NonProd", "Workloads/NonProd")
    [workloads] = org.list_parents(ChildId=parent["Id"])["Parents"]
    scps = org.list_policies_for_target(TargetId=workloads["Id"], Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert {p["Name"] for p in scps} >= {"bespoke-region-deny", "bespoke-deny-leave-organization"}
    s3control = aws.member_client("s3control", account_id=account_id)
    assert s3control.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    ec2 = aws.member_client("ec2", account_id=account_id)
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    assert outputs["budget"]["monthly_limit_usd"] == 500
    # One email for the outcome, to the requester and the technical contact.
    sent = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if account_id in str(m.body)]
    assert len(sent) == 1
    assert set(sent[0].destinations["ToAddresses"]) == {"john.doe@example.com", "whitew@example.com"}
    # Each webhook event once, signed with the subscription's secret.
    types = [json.loads(r.body)["type"] for r in receiver.requests]
    assert types.count("run.succeeded") == 1
    assert types.count("step.succeeded") == 17
    secret = hook.json()["secret"]
    assert all(verify_signature(secret, r.headers["bespoke-signature"], r.body) for r in receiver.requests)
