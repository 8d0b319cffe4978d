"""The headline: a step failing for good lands in dead letters, and a redrive after the
fix completes its run."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.kernel.models import DeadLetter
from apps.notifications.services import subscription_create
from apps.workflow.models import Run
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.deadletters import SentMail, operator_mails, outbox
from tests.support.factories import request_body
from tests.support.faults import inject
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.django_db


def test_a_step_failing_for_good_lands_in_dead_letters_and_a_redrive_after_the_fix_completes_the_run(
    api: APIClient,
    demo_payer: accounts.PayerSummary,
    aws: EmulatedAws,
    settings: Any,
    sent_mail: SentMail,
    receiver: Receiver,
    quotas_out_of_the_way: None,
    make_api_client: Callable[..., APIClient],
) -> None:
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    operator = make_api_client(all_payers=True).issued.client_id
    subscription_create(client_id=operator, url=receiver.url, events=["dead_letter.created"])
    accounts_before = len(aws.client("organizations").list_accounts()["Accounts"])
    inject(settings, "organizations:CreateAccount:AccessDenied")
    submitted = api.post("/v1/account-requests", request_body(), format="json")
    assert submitted.status_code == 202
    request_id = submitted.json()["id"]

    drain()

    failed = api.get(f"/v1/account-requests/{request_id}").json()
    assert failed["status"] == "failed"
    assert "create_account" in failed["failure"]
    assert "AccessDenied" in failed["failure"] or "denied" in failed["failure"].lower()
    [letter] = api.get("/v1/dead-letters", {"state": "open"}).json()["results"]
    assert (letter["handler"], letter["message_type"], letter["error_code"]) == (
        "accounts.run_step",
        "RunStep",
        "AccessDenied",
    )
    assert letter["envelope"]["payload"]["step"] == "create_account"
    [alert] = operator_mails(sent_mail)
    assert alert.destinations == {"ToAddresses": ["ops@example.com"]}
    [posted] = receiver.requests
    assert posted.headers["bespoke-event"] == "dead_letter.created"
    assert json.loads(posted.body)["data"]["dead_letter_id"] == letter["id"]
    assert len(aws.client("organizations").list_accounts()["Accounts"]) == accounts_before

    inject(settings, "")  # the operator fixes the permissions
    redriven = api.post(f"/v1/dead-letters/{letter['id']}/redrive")
    assert redriven.status_code == 202
    assert redriven.json()["resolution"] == f"retried request {request_id} from its failed steps"
    drain()

    done = api.get(f"/v1/account-requests/{request_id}").json()
    assert done["status"] == "succeeded"
    assert done["failure"] is None
    assert [(step["name"], step["state"]) for step in done["steps"]] == [
        ("create_account", "succeeded"),
        ("wait_account", "succeeded"),
    ]
    listed = aws.client("organizations").list_accounts()["Accounts"]
    assert len(listed) == accounts_before + 1
    assert (done["account"]["id"], "aws.demo.msfp.dev@example.com") in {(a["Id"], a["Email"]) for a in listed}
    run = Run.objects.get(request_id=request_id)
    assert run.retries == 1
    assert DeadLetter.objects.get(id=letter["id"]).state == "redriven"
    assert DeadLetter.objects.count() == 1  # nothing else gave up
    assert len(operator_mails(sent_mail)) == 1
    assert len(receiver.requests) == 1
    assert [e["payload"]["steps"] for e in outbox("RunResumed")] == [["create_account", "wait_account"]]
