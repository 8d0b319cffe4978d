"""The support step: one Enterprise Support case per account, opened from the payer's
management account, reused on every later attempt; and the handler that runs the step."""

from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from apps.baseline import handlers
from apps.baseline.steps import aws as baseline_aws
from apps.baseline.steps import support as support_step
from apps.cloud import api as cloud
from apps.kernel.contracts import RunStep
from apps.kernel.models import OutboxMessage
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]

PARAMS = {
    "service_code": "account-management",
    "category_code": "billing",
    "severity_code": "normal",
    "cc_email_addresses": ["cloud-team@example.com"],
}


def cases(support: Any) -> list[dict[str, Any]]:
    return list(support.describe_cases(includeResolvedCases=True)["cases"])


def open_case(support: Any, subject: str) -> str:
    return str(
        support.create_case(
            subject=subject, communicationBody="by hand", serviceCode="x", categoryCode="y", severityCode="low"
        )["caseId"]
    )


def test_a_case_naming_the_account_is_opened_from_the_management_account(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    outputs = support_step.support(step_context("support", step_params=PARAMS))

    [case] = cases(aws.client("support"))
    assert outputs == {"case_id": case["caseId"]}
    assert member_account in case["subject"]
    assert "Enterprise Support" in case["subject"]
    # (The emulator changes a case's severity each time it is described: see the stubbed test.)
    assert (case["serviceCode"], case["categoryCode"], case["language"]) == ("account-management", "billing", "en")
    assert case["ccEmailAddresses"] == ["cloud-team@example.com"]
    body = case["recentCommunications"]["communications"][0]["body"]
    assert member_account in body
    assert "11111111-1111-4111-8111-111111111111" in body
    assert cases(aws.member_client("support", account_id=member_account)) == []


def test_the_case_asks_with_the_blueprints_codes_in_english(
    step_context: MakeContext, member_account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    support = cloud.client("support", region="us-east-1")
    monkeypatch.setattr(cloud, "management_session_of", lambda inputs: None)
    monkeypatch.setattr(baseline_aws, "client", lambda service, **kwargs: support)
    with Stubber(support) as stubber:
        stubber.add_response("describe_cases", {"cases": []}, {"includeResolvedCases": True, "language": "en"})
        stubber.add_response(
            "create_case",
            {"caseId": "case-1"},
            {
                "subject": f"Add account {member_account} to Enterprise Support",
                "communicationBody": ANY,
                "serviceCode": "account-management",
                "categoryCode": "billing",
                "severityCode": "normal",
                "issueType": "customer-service",
                "ccEmailAddresses": ["cloud-team@example.com"],
                "language": "en",
            },
        )

        outputs = support_step.support(step_context("support", step_params=PARAMS))

        stubber.assert_no_pending_responses()
    assert outputs == {"case_id": "case-1"}


def test_running_it_again_reuses_the_case(aws: EmulatedAws, step_context: MakeContext) -> None:
    first = support_step.support(step_context("support"))

    second = support_step.support(step_context("support", attempt=2))

    assert second == first
    assert len(cases(aws.client("support"))) == 1


def test_a_case_already_opened_for_the_account_is_reused_and_others_are_not(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    support = aws.client("support")
    open_case(support, "Add account 999999999999 to Enterprise Support")
    existing = open_case(support, f"Enterprise Support for {member_account} please")

    outputs = support_step.support(step_context("support"))

    assert outputs == {"case_id": existing}
    assert len(cases(support)) == 2


def test_a_disabled_step_is_skipped_without_calling_aws(
    step_context: MakeContext, monkeypatch: pytest.MonkeyPatch, aws: EmulatedAws
) -> None:
    def no_aws(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the step called AWS")

    monkeypatch.setattr(cloud, "management_session_of", no_aws)
    monkeypatch.setattr(baseline_aws, "client", no_aws)

    assert support_step.support(step_context("support", step_params={"enabled": False})) == {"skipped": True}
    assert cases(aws.client("support")) == []


def test_the_handler_runs_a_step_and_records_its_outputs(step_context: MakeContext) -> None:
    inputs = dict(step_context("support", step_params={"enabled": False}).inputs)
    command = RunStep(run_id="run-1", step="support", context="baseline", inputs=inputs)

    handlers.run_step(command, attempt=1, retry_delay=1.0)

    [row] = OutboxMessage.objects.filter(type="StepSucceeded")
    assert row.envelope["payload"]["outputs"] == {"skipped": True}
    assert row.envelope["payload"]["step"] == "support"
