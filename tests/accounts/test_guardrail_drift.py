"""The reconciler compares the payer's SCPs with Organizations: one detached or edited
outside Bespoke is reported once as ``GuardrailDrifted`` (the ``guardrail.drifted``
webhook) until a reapply puts it back."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.accounts.models import ServiceControlPolicy
from apps.accounts.steps import organization
from apps.kernel.models import OutboxMessage
from apps.kernel.steps import StepContext
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import subscription_create
from tests.conftest import EmulatedAws
from tests.support.bus import drain

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]


@pytest.fixture
def vended(payer_settings: dict[str, Any], step_context: MakeContext, member_account: str) -> Callable[[], None]:
    accounts.guardrails_configure(
        payer_name="demo",
        ou_tree=["Workloads/Prod"],
        ou_rules={"default": "Workloads/Prod"},
        baseline_scps_on=["Workloads"],
    )

    def apply() -> None:
        organization.ou_placement(step_context("ou_placement"))
        organization.service_control_policies(step_context("service_control_policies"))

    apply()
    return apply


def drift_events() -> list[dict[str, Any]]:
    return [m.envelope["payload"] for m in OutboxMessage.objects.filter(type="GuardrailDrifted").order_by("sequence")]


def test_an_scp_detached_outside_bespoke_is_reported_once_until_reapplied(
    aws: EmulatedAws, vended: Callable[[], None]
) -> None:
    assert accounts.accounts_reconcile(payer="demo").scps_drifted == ()
    org = aws.client("organizations")
    policies = {p["Name"]: p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    workloads = organization.ou_ids(org, ["Workloads/Prod"], create=False)["Workloads"]
    org.detach_policy(PolicyId=policies["bespoke-region-deny"], TargetId=workloads)
    org.update_policy(
        PolicyId=policies["bespoke-deny-root-user"],
        Content=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )

    report = accounts.accounts_reconcile(payer="demo")

    assert sorted(report.scps_drifted) == ["deny-root-user", "region-deny"]
    assert sorted((event["subject"], tuple(event["problems"])) for event in drift_events()) == [
        ("deny-root-user", ("SCP bespoke-deny-root-user was edited outside Bespoke.",)),
        ("region-deny", ("SCP bespoke-region-deny is not attached to OU Workloads.",)),
    ]
    assert {event["guardrail"] for event in drift_events()} == {"service_control_policy"}
    assert ServiceControlPolicy.objects.get(name="region-deny").drift

    assert accounts.accounts_reconcile(payer="demo").scps_drifted == ()  # still drifted: not reported again
    assert len(drift_events()) == 2

    vended()  # the reapply

    assert accounts.accounts_reconcile(payer="demo").scps_drifted == ()
    assert not ServiceControlPolicy.objects.filter(payer__name="demo").exclude(drift="").exists()


def test_scp_drift_reaches_the_payers_webhook_subscribers(
    aws: EmulatedAws, vended: Callable[[], None], make_api_client: Any
) -> None:
    client_id = make_api_client().issued.client_id  # granted the payer demo
    subscription = subscription_create(client_id=client_id, url="http://127.0.0.1:9/hook", events=["guardrail.drifted"])
    org = aws.client("organizations")
    policies = {p["Name"]: p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    workloads = organization.ou_ids(org, ["Workloads/Prod"], create=False)["Workloads"]
    org.detach_policy(PolicyId=policies["bespoke-region-deny"], TargetId=workloads)

    accounts.accounts_reconcile(payer="demo")
    assert "GuardrailDrifted" in drain()

    delivery = WebhookDelivery.objects.get(subscription_id=subscription.subscription.id)
    assert delivery.event_type == "guardrail.drifted"
    assert delivery.payload["data"] == {
        "account_id": None,
        "payer": "demo",
        "guardrail": "service_control_policy",
        "subject": "region-deny",
        "problems": ["SCP bespoke-region-deny is not attached to OU Workloads."],
    }
