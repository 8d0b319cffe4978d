"""The compliance poller reads a governed account's guardrails back alongside Config: a
setting switched off outside Bespoke shows in the snapshot, in ``GET /v1/compliance`` and as
a ``GuardrailDrifted`` event before a reapply puts it back. (Config's compliance answers
come from botocore's Stubber: the emulator lacks DescribeComplianceByConfigRule.)"""

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount
from apps.baseline.steps import budget as budget_step
from apps.baseline.steps import hygiene, security_services
from apps.compliance import services
from apps.kernel.models import OutboxMessage
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws
from tests.support import factories

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]
REGIONS = ["us-east-1", "us-west-2"]


@pytest.fixture
def no_config_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    def config_client(session: Any) -> Any:
        client = boto3.client("config", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        stubber.add_response("describe_compliance_by_config_rule", {"ComplianceByConfigRules": []})
        stubber.activate()
        return client

    monkeypatch.setattr(services, "_config_client", config_client)


@pytest.fixture
def governed_account(aws: EmulatedAws, step_context: MakeContext, member_account: str) -> Callable[[], None]:
    """The member account with its guardrails built in two regions; calling the result
    builds them again (a reapply)."""
    factories.account(aws_account_id=member_account, regions=REGIONS)

    def build() -> None:
        hygiene.account_hygiene(
            step_context(
                "account_hygiene", regions=REGIONS, step_params={"access_analyzer": False, "alternate_contacts": False}
            )
        )
        security_services.security_services(step_context("security_services", regions=REGIONS))
        budget_step.budget(step_context("budget"))

    build()
    return build


def drift_events() -> list[dict[str, Any]]:
    return [m.envelope["payload"] for m in OutboxMessage.objects.filter(type="GuardrailDrifted").order_by("sequence")]


def test_the_poller_reports_a_guardrail_switched_off_until_it_is_reapplied(
    aws: EmulatedAws,
    no_config_rules: None,
    governed_account: Callable[[], None],
    member_account: str,
    api: APIClient,
) -> None:
    assert services.compliance_poll() == {"polled": 1, "non_compliant": 0, "failed": 0}
    [listed] = api.get("/v1/compliance").json()["results"]
    assert listed["compliant"] is True
    checks = {(reading["check"], reading["region"]) for reading in listed["guardrails"]}
    assert checks == {
        ("s3_block_public_access", ""),
        ("budget", ""),
        *(
            (check, region)
            for check in ("ebs_encryption_by_default", "guardduty", "security_hub")
            for region in REGIONS
        ),
    }
    assert all(reading["ok"] for reading in listed["guardrails"])

    aws.member_client("s3control", account_id=member_account).delete_public_access_block(AccountId=member_account)
    aws.member_client("ec2", account_id=member_account, region="us-west-2").disable_ebs_encryption_by_default()
    assert services.compliance_poll()["non_compliant"] == 1

    [listed] = api.get("/v1/compliance?compliant=false").json()["results"]
    off = [
        (reading["check"], reading["region"], reading["detail"])
        for reading in listed["guardrails"]
        if not reading["ok"]
    ]
    assert off == [
        ("s3_block_public_access", "", "S3 Block Public Access is off for the account."),
        ("ebs_encryption_by_default", "us-west-2", "EBS encryption by default is off in us-west-2."),
    ]
    assert [(event["guardrail"], event["problems"]) for event in drift_events()] == [
        ("ebs_encryption_by_default", ["EBS encryption by default is off in us-west-2."]),
        ("s3_block_public_access", ["S3 Block Public Access is off for the account."]),
    ]
    services.compliance_poll()
    assert len(drift_events()) == 2  # still off: not reported again

    governed_account()  # the reapply

    assert services.compliance_poll() == {"polled": 1, "non_compliant": 0, "failed": 0}
    assert len(drift_events()) == 2


def test_an_account_vended_without_guardrails_is_read_for_config_only(
    aws: EmulatedAws, no_config_rules: None, payer_settings: dict[str, Any], member_account: str
) -> None:
    factories.account(aws_account_id=member_account)

    [active] = accounts.accounts_active()
    snapshot = services.compliance_poll_account(
        payer=active.payer, aws_account_id=active.aws_account_id, regions=active.regions
    )

    assert (snapshot.compliant, snapshot.guardrails) == (True, ())
    assert ManagedAccount.objects.get(aws_account_id=member_account).regions == []
