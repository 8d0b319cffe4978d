"""Integration steps of kind ``http`` against a receiver on loopback: the account's details
POSTed, signed like a webhook; done on a 2xx answer, or after a 202 on the endpoint's
callback (``POST /v1/steps/<token>/complete`` or ``/fail``) within the step's deadline; a
late callback and a forged token refused."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.kernel.errors import PermanentError, RetryableError, StillInProgress
from apps.kernel.steps import StepContext
from apps.notifications import signing
from apps.notifications.integrations import steps
from apps.notifications.integrations.calls import callback_token
from apps.notifications.models import IntegrationCall
from apps.workflow.plans import InvalidPlan, plan_from_blueprint
from tests.accounts.conftest import FakeClock, fake_clock
from tests.support.webhooks import Receiver, webhook_receiver

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = ["fake_clock"]  # the accounts tests' clock fixture, used here too

SECRET = "test-suite-integration-secret"  # INTEGRATION_SIGNING_SECRET in the test settings
REQUEST_ID = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    with webhook_receiver() as receiving:
        base = f"http://127.0.0.1:{receiving.port}"
        settings.INTEGRATION_ENDPOINTS = [f"active-directory={base}/ad", f"cloudability={base}/c"]
        yield receiving


def run(step: str = "ad_security_groups", *, params: dict[str, Any] | None = None, run_id: str = "run-1") -> Any:
    inputs = {
        "request_id": REQUEST_ID,
        "account_id": "123456789012",
        "account_email": "aws.demo.msfp.dev@example.com",
        "account_name": "demo-msfp-dev",
        "region": "us-east-1",
        "regions": ["us-east-1", "us-west-2"],
        "tags": {"project_short_name": "msfp"},
        "step_params": params or {},
    }
    # As the step runner calls it: outside any transaction (what it writes is committed).
    return steps.http_step(StepContext(run_id=run_id, step=step, attempt=1, inputs=inputs))


def callback_urls(receiver: Receiver) -> dict[str, str]:
    return dict(json.loads(receiver.requests[-1].body)["callback"])


def path_of(url: str) -> str:
    """The path of an absolute URL (the test client calls Bespoke in-process)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_a_2xx_answer_completes_the_step_at_once(receiver: Receiver) -> None:
    receiver.statuses.append(201)

    outputs = run("cloudability")

    [posted] = receiver.requests
    assert posted.path == "/c"
    assert signing.verify_signature(SECRET, posted.headers["bespoke-signature"], posted.body)
    body = json.loads(posted.body)
    assert (body["type"], body["step"], body["request_id"]) == ("step.requested", "cloudability", REQUEST_ID)
    assert body["account"]["id"] == "123456789012"
    assert body["regions"] == ["us-east-1", "us-west-2"]
    assert outputs["http_status"] == 201
    assert run("cloudability") == outputs  # again: nothing POSTed
    assert len(receiver.requests) == 1


def test_a_202_waits_for_the_callback_whose_outputs_become_the_steps(receiver: Receiver) -> None:
    receiver.statuses.append(202)

    with pytest.raises(StillInProgress) as waiting:
        run()
    assert (waiting.value.code, waiting.value.delay) == ("integration_waiting", 10)
    with pytest.raises(StillInProgress):
        run()  # still waiting: nothing POSTed again
    assert len(receiver.requests) == 1

    answer = APIClient().post(
        path_of(callback_urls(receiver)["complete"]), {"outputs": {"group": "aws-msfp-admins"}}, format="json"
    )

    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "completed"
    outputs = run()
    assert outputs["group"] == "aws-msfp-admins"


def test_a_fail_callback_fails_the_step_with_its_code(receiver: Receiver) -> None:
    receiver.statuses.append(202)
    with pytest.raises(StillInProgress):
        run()

    failure = {"message": "no such manager", "code": "unknown_manager"}
    answer = APIClient().post(path_of(callback_urls(receiver)["fail"]), failure, format="json")

    assert answer.status_code == 200
    with pytest.raises(PermanentError) as failed:
        run()
    assert (failed.value.code, failed.value.message) == ("unknown_manager", "active-directory: no such manager")


def test_a_callback_after_the_deadline_is_refused_and_the_step_fails(receiver: Receiver, fake_clock: FakeClock) -> None:
    receiver.statuses.append(202)
    with pytest.raises(StillInProgress):
        run(params={"deadline_minutes": 5})
    fake_clock.advance(5 * 60 + 1)

    late = APIClient().post(path_of(callback_urls(receiver)["complete"]), {"outputs": {}}, format="json")

    assert late.status_code == 409
    assert late.json()["code"] == "callback_too_late"
    with pytest.raises(PermanentError) as failed:
        run(params={"deadline_minutes": 5})
    assert failed.value.code == "integration_deadline_passed"


def test_a_forged_or_unknown_token_is_refused(receiver: Receiver) -> None:
    receiver.statuses.append(202)
    with pytest.raises(StillInProgress):
        run()
    real = callback_urls(receiver)["complete"]
    call_id = IntegrationCall.objects.get().id
    forged = [
        real.replace("/complete", "x/complete"),  # signature changed
        f"/v1/steps/{call_id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/complete",  # a made-up signature
        f"/v1/steps/{callback_token('00000000-0000-4000-8000-000000000000')}/complete",  # signed, but no such call
    ]

    for url in forged:
        answer = APIClient().post(path_of(url) if "://" in url else url, {"outputs": {}}, format="json")
        assert answer.status_code == 404, url
        assert answer.json()["code"] == "unknown_callback"
    assert IntegrationCall.objects.get().status == "waiting"


def test_a_second_callback_is_refused(receiver: Receiver) -> None:
    receiver.statuses.append(202)
    with pytest.raises(StillInProgress):
        run()
    complete = path_of(callback_urls(receiver)["complete"])
    assert APIClient().post(complete, {}, format="json").status_code == 200

    again = APIClient().post(complete, {}, format="json")

    assert (again.status_code, again.json()["code"]) == (409, "callback_already_received")


def test_a_refusal_fails_for_good_and_an_outage_is_retried(receiver: Receiver) -> None:
    receiver.statuses.extend([503, 400])

    with pytest.raises(RetryableError) as unavailable:
        run()
    assert unavailable.value.code == "integration_unavailable"
    with pytest.raises(PermanentError) as refused:
        run()  # the same call, POSTed again
    assert refused.value.code == "integration_refused"
    assert {r.headers["bespoke-call-id"] for r in receiver.requests} == {IntegrationCall.objects.get().id}


def test_an_endpoint_the_operator_did_not_configure_fails_for_good(receiver: Receiver) -> None:
    with pytest.raises(PermanentError) as failed:
        run(params={"endpoint": "nowhere"})

    assert failed.value.code == "integration_not_configured"
    assert receiver.requests == []


def test_an_endpoint_at_a_private_address_is_refused(settings: Any) -> None:
    settings.INTEGRATION_ENDPOINTS = ["active-directory=http://10.1.2.3/ad"]

    with pytest.raises(PermanentError) as refused:
        run()

    assert refused.value.code == "integration_refused_address"


def test_blueprints_name_them_with_the_original_task_names(db: None) -> None:
    plan = plan_from_blueprint(
        [
            {"name": "ad_distribution_list"},
            {"name": "ad_security_groups", "params": {"kind": "http", "deadline_minutes": 120}},
            {"name": "cloudability", "params": {"endpoint": "cloudability"}},
        ]
    )

    legacy = {spec.name: (spec.legacy_name, spec.context) for spec in plan if spec.context == "notifications"}
    assert legacy == {
        "ad_distribution_list": ("AD_DL", "notifications"),
        "ad_security_groups": ("AD_SEC_GROUPS", "notifications"),
        "cloudability": ("CLOUDABILITY", "notifications"),
    }
    with pytest.raises(InvalidPlan, match="kind must be 'http'"):
        plan_from_blueprint([{"name": "cloudability", "params": {"kind": "smtp"}}])
    with pytest.raises(InvalidPlan, match="deadline_minutes"):
        plan_from_blueprint([{"name": "cloudability", "params": {"deadline_minutes": 0}}])
