"""The compliance poller reads AWS Config rule compliance in each active member account
(assumed into through the emulator; the Config answers from botocore's Stubber, as moto
lacks these calls), stores a snapshot, and turns a newly non-compliant account into the
``account.non_compliant`` webhook."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rest_framework.test import APIClient

from apps.accounts.models import ManagedAccount, Payer
from apps.compliance import services
from apps.compliance.models import ComplianceSnapshot
from apps.kernel import clock, ids
from apps.kernel.models import OutboxMessage
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import subscription_create
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.webhooks import Receiver, webhook_receiver

pytestmark = pytest.mark.django_db

Plan = Callable[[Stubber], None]


def _create_account(aws: EmulatedAws, name: str) -> str:
    org = aws.client("organizations")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    aws_id = str(
        org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    )
    now = clock.now()
    ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        request_id=ids.new_id(),
        email=f"{name}@example.com",
        name=name,
        aws_account_id=aws_id,
        status=ManagedAccount.Status.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    return aws_id


@pytest.fixture
def config_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Plan]]:
    """``config_answers[aws_account_id] = plan``: the Config client the poller makes for
    that account (the real one, in the assumed member session) answers as the plan
    queues on its Stubber. Which account a client is for is asked of STS, as AWS would."""
    plans: dict[str, Plan] = {}
    stubbers: list[Stubber] = []
    active: dict[int, Stubber] = {}  # clients are reused: one poll's stubber gives way to the next's
    real = services._config_client

    def stubbed(session: boto3.Session) -> Any:
        client = real(session)
        account = services.cloud.client("sts", session=session).get_caller_identity()["Account"]
        previous = active.pop(id(client), None)
        if previous is not None:
            previous.assert_no_pending_responses()
            previous.deactivate()
        stubber = Stubber(client)
        active[id(client)] = stubber
        plans[account](stubber)
        stubber.activate()
        stubbers.append(stubber)
        return client

    monkeypatch.setattr(services, "_config_client", stubbed)
    yield plans
    for stubber in stubbers:
        stubber.assert_no_pending_responses()


def _rules(*pairs: tuple[str, str], token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "ComplianceByConfigRules": [
            {"ConfigRuleName": rule, "Compliance": {"ComplianceType": compliance}} for rule, compliance in pairs
        ]
    }
    if token:
        answer["NextToken"] = token
    return answer


def _details(rule: str, *resource_ids: str) -> dict[str, Any]:
    return {
        "EvaluationResults": [
            {
                "EvaluationResultIdentifier": {
                    "EvaluationResultQualifier": {
                        "ConfigRuleName": rule,
                        "ResourceType": "AWS::S3::Bucket",
                        "ResourceId": resource_id,
                    }
                },
                "ComplianceType": "NON_COMPLIANT",
            }
            for resource_id in resource_ids
        ]
    }


def non_compliant(stubber: Stubber) -> None:
    # Two pages of rules; one NON_COMPLIANT rule with its offending resources.
    stubber.add_response(
        "describe_compliance_by_config_rule", _rules(("s3-bucket-public-read-prohibited", "NON_COMPLIANT"), token="t1")
    )
    stubber.add_response(
        "describe_compliance_by_config_rule",
        _rules(("cloudtrail-enabled", "COMPLIANT"), ("iam-password-policy", "INSUFFICIENT_DATA")),
        {"NextToken": "t1"},
    )
    stubber.add_response(
        "get_compliance_details_by_config_rule",
        _details("s3-bucket-public-read-prohibited", "open-bucket", "other-bucket"),
        {"ConfigRuleName": "s3-bucket-public-read-prohibited", "ComplianceTypes": ["NON_COMPLIANT"]},
    )


def compliant(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_compliance_by_config_rule",
        _rules(("cloudtrail-enabled", "COMPLIANT"), ("s3-versioning", "NOT_APPLICABLE")),
    )


def access_denied(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_compliance_by_config_rule", service_error_code="AccessDeniedException", http_status_code=400
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


def test_a_non_compliant_account_gets_a_snapshot_an_event_and_a_webhook(
    payer_settings: Any,
    aws: EmulatedAws,
    config_answers: dict[str, Plan],
    receiver: Receiver,
    make_api_client: Callable[..., APIClient],
) -> None:
    aws_id = _create_account(aws, "leaky")
    config_answers[aws_id] = non_compliant
    client_id = make_api_client().issued.client_id  # granted the payer demo
    subscription = subscription_create(client_id=client_id, url=receiver.url, events=["account.non_compliant"])

    outcome = services.compliance_poll()
    drained = drain()

    assert outcome == {"polled": 1, "non_compliant": 1, "failed": 0}
    snapshot = ComplianceSnapshot.objects.get(aws_account_id=aws_id)
    assert snapshot.compliant is False
    assert snapshot.payer == "demo"
    assert snapshot.rules == [
        {"rule": "cloudtrail-enabled", "compliance": "COMPLIANT", "non_compliant_resources": []},
        {"rule": "iam-password-policy", "compliance": "INSUFFICIENT_DATA", "non_compliant_resources": []},
        {
            "rule": "s3-bucket-public-read-prohibited",
            "compliance": "NON_COMPLIANT",
            "non_compliant_resources": [
                {"type": "AWS::S3::Bucket", "id": "open-bucket"},
                {"type": "AWS::S3::Bucket", "id": "other-bucket"},
            ],
        },
    ]
    assert "AccountNonCompliant" in drained
    delivery = WebhookDelivery.objects.get(subscription_id=subscription.subscription.id)
    assert delivery.event_type == "account.non_compliant"
    assert delivery.payload["data"] == {
        "account_id": aws_id,
        "payer": "demo",
        "snapshot_id": snapshot.id,
        "non_compliant_rules": ["s3-bucket-public-read-prohibited"],
        "new_non_compliant_rules": ["s3-bucket-public-read-prohibited"],
    }
    [request] = receiver.requests
    assert json.loads(request.body)["type"] == "account.non_compliant"


def test_still_non_compliant_with_the_same_rules_records_no_new_event(
    payer_settings: Any, aws: EmulatedAws, config_answers: dict[str, Plan]
) -> None:
    aws_id = _create_account(aws, "leaky")
    config_answers[aws_id] = non_compliant
    services.compliance_poll()

    services.compliance_poll()

    assert ComplianceSnapshot.objects.filter(aws_account_id=aws_id).count() == 2
    assert OutboxMessage.objects.filter(type="AccountNonCompliant").count() == 1


def test_a_compliant_account_gets_a_snapshot_and_no_event(
    payer_settings: Any, aws: EmulatedAws, config_answers: dict[str, Plan]
) -> None:
    aws_id = _create_account(aws, "tidy")
    config_answers[aws_id] = compliant

    outcome = services.compliance_poll()

    assert outcome == {"polled": 1, "non_compliant": 0, "failed": 0}
    assert ComplianceSnapshot.objects.get(aws_account_id=aws_id).compliant is True
    assert not OutboxMessage.objects.filter(type="AccountNonCompliant").exists()


def test_an_aws_error_in_one_account_does_not_stop_the_others(
    payer_settings: Any, aws: EmulatedAws, config_answers: dict[str, Plan]
) -> None:
    denied, leaky, tidy = _create_account(aws, "denied"), _create_account(aws, "leaky"), _create_account(aws, "tidy")
    config_answers.update({denied: access_denied, leaky: non_compliant, tidy: compliant})

    outcome = services.compliance_poll()

    assert outcome == {"polled": 2, "non_compliant": 1, "failed": 1}
    assert set(ComplianceSnapshot.objects.values_list("aws_account_id", flat=True)) == {leaky, tidy}
    assert OutboxMessage.objects.filter(type="AccountNonCompliant").count() == 1


def test_accounts_not_active_are_not_polled(
    payer_settings: Any, aws: EmulatedAws, config_answers: dict[str, Plan]
) -> None:
    aws_id = _create_account(aws, "closed")
    ManagedAccount.objects.filter(aws_account_id=aws_id).update(status=ManagedAccount.Status.CLOSED)

    assert services.compliance_poll() == {"polled": 0, "non_compliant": 0, "failed": 0}
