"""At-least-once delivery, exactly-once effect: every handler and runner, given a message a
second time, changes nothing — checked on every message of real runs (one that succeeds,
one that fails, one cancelled), across every table."""

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.compliance import services as compliance_services
from apps.intake import api as intake
from apps.kernel.contracts import StepRetrying
from apps.kernel.models import OutboxMessage
from apps.notifications.api import subscription_create
from tasks.consumers import handle_event, run_step
from tasks.demo import seed_demo
from tasks.subscriptions import all_subscribers, subscribers_for
from tests.compliance.test_compliance_poller import non_compliant
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in django_apps.get_models()}


def test_every_handler_given_a_message_twice_has_one_effect(
    aws: EmulatedAws, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    seed = seed_demo(var_dir=tmp_path)
    # The demo client operates every payer: its subscription hears of every event.
    operator = clients.token_authenticate(token=seed.token)
    assert operator is not None
    subscription_create(client_id=operator.client_id, url="http://127.0.0.1:9/hook", events=[])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {seed.token}")

    succeeded = api.post("/v1/account-requests", request_body(), format="json").json()["id"]
    drain()
    settings.AWS_FAULTS = "ec2:CreateInternetGateway:AccessDenied"
    failed = api.post("/v1/account-requests", request_body(tags__project_short_name="broken"), format="json").json()[
        "id"
    ]
    drain()
    settings.AWS_FAULTS = ""
    cancelled = api.post("/v1/account-requests", request_body(tags__project_short_name="gone"), format="json").json()[
        "id"
    ]
    intake.request_cancel(request_id=cancelled, reason="changed our mind")
    drain()
    statuses = [intake.request_get(request_id=i, viewer=None).status for i in (succeeded, failed, cancelled)]  # type: ignore[union-attr]
    assert statuses == ["succeeded", "failed", "cancelled"]
    # A command on the vended account: its run, and the command hearing how it ended.
    account_id = api.get(f"/v1/account-requests/{succeeded}").json()["account"]["id"]
    command = api.post(f"/v1/accounts/{account_id}/commands", {"command": "reapply", "steps": ["iam"]}, format="json")
    assert command.status_code == 202, command.json()
    drain()
    assert api.get(command.json()["status_url"]).json()["status"] == "succeeded"

    # The pollers: an account made outside Bespoke (drift) and a non-compliant Config rule.
    org = aws.client("organizations")
    org.create_account(Email="stranger@example.com", AccountName="stranger")
    assert accounts.accounts_reconcile(payer="demo").discovered
    # An SCP of the demo payer detached outside Bespoke (guardrail drift).
    region_deny = {p["Name"]: p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}[
        "bespoke-region-deny"
    ]
    for target in org.list_targets_for_policy(PolicyId=region_deny)["Targets"]:
        org.detach_policy(PolicyId=region_deny, TargetId=target["TargetId"])
    assert accounts.accounts_reconcile(payer="demo").scps_drifted == ("region-deny",)
    real_config_client = compliance_services._config_client

    def non_compliant_config(session: Any) -> Any:
        client = real_config_client(session)
        stubber = Stubber(client)
        non_compliant(stubber)
        stubber.activate()
        return client

    monkeypatch.setattr(compliance_services, "_config_client", non_compliant_config)
    compliance_services.compliance_poll()
    drain()

    exercised: set[str] = set()
    before = row_counts()
    for message in OutboxMessage.objects.order_by("sequence"):
        for subscriber in subscribers_for(message.envelope):
            exercised.add(subscriber.name)
            if subscriber.runner:
                outcome = run_step(subscriber, message.envelope, attempt=1, retry_delay=None)
                assert outcome is None, (subscriber.name, message.type)
            else:
                handle_event(subscriber, message.envelope)
            assert row_counts() == before, (subscriber.name, message.type)

    # A retry notice, which these runs didn't need: applied once, then nothing.
    [vpc_run] = OutboxMessage.objects.filter(type="RunStarted").values_list("envelope", flat=True)[:1]
    retrying = StepRetrying(
        run_id=vpc_run["payload"]["run_id"],
        step="vpc",
        attempts=2,
        error_code="Throttling",
        message="x",
        retry_in_seconds=1,
    ).to_envelope()
    [subscriber] = subscribers_for(retrying)
    handle_event(subscriber, retrying)
    after_first = row_counts()
    handle_event(subscriber, retrying)
    assert row_counts() == after_first
    exercised.add(subscriber.name)

    # Every handler Bespoke has took part (webhook deliveries, whose receiver is down here,
    # are runners too: a delivery already attempted is not posted twice). Dead letters'
    # redelivery is proven in tests/tasks/dead_letters/.
    assert exercised >= {s.name for s in all_subscribers()} - {"notifications.on_dead_letter"}
