"""Peeling network off: the same q.network messages processed by the monolith package and
by the production-network package leave the same state, and the network function loads
no other context and refuses records from other queues."""

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.cloud.emulator import ensure_organization
from apps.kernel import ids
from apps.kernel.contracts import RunStep
from apps.kernel.models import OutboxMessage, ProcessedMessage
from apps.network import api as network
from apps.network.models import Allocation
from apps.workflow.contracts import RunFailed
from tasks.subscriptions import all_queues
from tests.conftest import DEMO_IDP_METADATA, EmulatedAws
from tests.deploy import harness
from tests.deploy.conftest import Footing, secret_values
from tests.support import factories
from tests.support.factories import request_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]

OTHER_CONTEXTS = ("intake", "workflow", "accounts", "clients", "baseline", "notifications", "compliance")
# AWS ids and account numbers differ between two emulator runs; everything else must not.
_AWS_ID = re.compile(r"\b(vpc|subnet|igw|rtb|rtbassoc|nat|eipalloc|eni|acl|sg|dopt)-[0-9a-f]{8,17}\b")
_ACCOUNT = re.compile(r"\b\d{12}\b")


def normalized(value: Any) -> Any:
    return json.loads(_ACCOUNT.sub("<account>", _AWS_ID.sub(r"\1-*", json.dumps(value, sort_keys=True))))


def prepare_world(aws: EmulatedAws) -> tuple[dict[str, Any], str]:
    """A fresh emulator and database for the demo payer: its organization, a member
    account, the payer's IP pool. (The payer_settings, member account as the steps get them.)"""
    aws.reset()
    for model in (Allocation, OutboxMessage, ProcessedMessage):
        model.objects.all().delete()
    management = ensure_organization()
    aws.client("s3").create_bucket(Bucket="bespoke-test-log-archive")
    factories.payer(
        "demo",
        management_account_id=management,
        allowed_environments=["dev"],
        allowed_regions=["us-east-1"],
        log_archive_bucket="bespoke-test-log-archive",
        saml_metadata_document=DEMO_IDP_METADATA,
        dns_domain="aws.example.com",
    )
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")
    organizations = aws.client("organizations")
    created = organizations.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]
    status = organizations.describe_create_account_status(CreateAccountRequestId=created["Id"])
    return accounts.payer_settings(name="demo"), str(status["CreateAccountStatus"]["AccountId"])


def network_messages(payer_settings: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    """A vpc RunStep and the run's RunFailed (the block goes back to the pool), with fixed
    ids so both runs publish identical messages."""
    request_id, run_id = "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"
    body = request_body()
    inputs = {
        "request_id": request_id,
        "payer": "demo",
        "region": "us-east-1",
        "vpc": body["vpc"],
        "tags": body["tags"],
        "account_name": "demo-msfp-dev",
        "payer_settings": payer_settings,
        "account_id": account_id,
        "step_params": {"nat": "none", "delete_default_vpcs_in": []},
    }
    step = RunStep(message_id="55555555-5555-4555-8555-555555555555", run_id=run_id, step="vpc", context="network")
    step = RunStep(**{**step.__dict__, "inputs": inputs})
    failed = RunFailed(
        message_id="66666666-6666-4666-8666-666666666666",
        run_id=run_id,
        request_id=request_id,
        step="flow_logs",
        error_code="Test",
        message="a later step failed",
    )
    return [
        {"task": "network.run_step", "args": [step.to_envelope()], "task_id": "77777777-7777-4777-8777-777777777777"},
        {
            "task": "network.on_run_failed",
            "args": [failed.to_envelope()],
            "task_id": "88888888-8888-4888-8888-88888888",
        },
    ]


def state(aws: EmulatedAws, footing: Footing, account_id: str) -> dict[str, Any]:
    vpcs = aws.member_client("ec2", account_id=account_id).describe_vpcs(
        Filters=[{"Name": "tag:bespoke:component", "Values": ["vpc"]}]
    )["Vpcs"]
    return normalized(
        {
            "allocations": sorted(Allocation.objects.values_list("request_id", "cidr", "prefix_length", "state")),
            "inbox": sorted(ProcessedMessage.objects.values_list("handler", "message_id")),
            "outbox": sorted(
                (m.type, json.dumps(m.envelope["payload"], sort_keys=True), m.published_at is not None)
                for m in OutboxMessage.objects.all()
            ),
            "vpcs": sorted((v["CidrBlock"], sorted((t["Key"], t["Value"]) for t in v.get("Tags", []))) for v in vpcs),
            "queues": {queue: footing.queues.counts(queue) for queue in all_queues()},
        }
    )


def process(footing: Footing, invoke: Callable[[dict[str, Any]], Any], messages: list[dict[str, Any]]) -> None:
    """Publish the messages one at a time; hand each to ``invoke`` as its own batch, then
    deliver the step command a second time (SQS may)."""
    mapping = harness.EventSourceMapping(footing.queues, {"q.network": invoke})
    first = None
    for message in messages:
        footing.produce([message])
        records = mapping.receive("q.network")
        assert len(records) == 1
        first = first or records
        assert mapping.deliver("q.network", records).failures == set()
    assert first is not None
    assert invoke({"Records": first}) == {"batchItemFailures": []}


def test_monolith_and_peeled_function_leave_the_same_state(footing: Footing, aws: EmulatedAws) -> None:
    snapshots = {}
    for stage, overrides in (
        # The monolith package, pointed at the production queues and secret.
        ("dev", {"SQS_QUEUE_PREFIX": "bespoke-production-", "BESPOKE_SECRETS_ID": "bespoke/production"}),
        ("production-network", {}),
    ):
        payer_settings, account_id = prepare_world(aws)
        footing.queues = harness.create_queues(aws.url, "production")
        harness.put_secret(aws.url, "bespoke/production", secret_values(footing.database_url, footing.queues))
        with footing.function(stage, **overrides) as function:
            process(footing, function.invoke, network_messages(payer_settings, account_id))
            if stage == "production-network":
                loaded = set(function.modules())
                assert "apps.network.steps" in loaded
                # Of the other contexts, only the event contract network listens to (RunFailed).
                others = {m for m in loaded if m.startswith("apps.") and m.split(".")[1] in OTHER_CONTEXTS}
                assert others == {"apps.workflow", "apps.workflow.contracts"}
        snapshots[stage] = state(aws, footing, account_id)

    assert snapshots["dev"] == snapshots["production-network"]
    monolith = snapshots["dev"]
    assert monolith["vpcs"]
    assert monolith["allocations"][0][3] == "released"
    assert [t for t, _, _ in monolith["outbox"]] == ["StepSucceeded"]


def test_network_function_refuses_other_queues(footing: Footing, aws: EmulatedAws) -> None:
    footing.queues = harness.create_queues(aws.url, "production")
    harness.put_secret(aws.url, "bespoke/production", secret_values(footing.database_url, footing.queues))
    event = RunFailed(run_id=ids.new_id(), request_id=ids.new_id(), step="s", error_code="e", message="m")
    footing.produce([{"task": "intake.on_run_failed", "args": [event.to_envelope()]}])
    mapping = harness.EventSourceMapping(footing.queues, {})
    records = mapping.receive("q.intake")
    assert json.loads(base64.b64decode(records[0]["body"]))["headers"]["task"] == "intake.on_run_failed"

    with footing.function("production-network") as function:
        answer = function.invoke({"Records": records})

    assert answer == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    assert not ProcessedMessage.objects.exists()
