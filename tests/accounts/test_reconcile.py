"""The reconciler compares the payer's Organization (the emulator) with Bespoke's records:
accounts closed, moved or created directly in AWS are noticed once, with an event each."""

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount, Payer
from apps.kernel import clock, ids
from apps.kernel.models import OutboxMessage
from tasks.periodic import JOBS
from tests.conftest import EmulatedAws
from tests.support import factories
from tests.support.faults import inject

pytestmark = pytest.mark.django_db


def _create(aws: EmulatedAws, name: str) -> str:
    org = aws.client("organizations")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    return str(
        org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    )


def _root(aws: EmulatedAws) -> str:
    return str(aws.client("organizations").list_roots()["Roots"][0]["Id"])


def _vended(aws_account_id: str, *, ou_id: str = "", name: str = "vended") -> ManagedAccount:
    now = clock.now()
    return ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        request_id=ids.new_id(),
        email=f"{name}@example.com",
        name=name,
        aws_account_id=aws_account_id,
        ou_id=ou_id,
        status=ManagedAccount.Status.ACTIVE,
        created_at=now,
        updated_at=now,
    )


def _drift_events() -> list[dict[str, Any]]:
    return [
        message.envelope["payload"]
        for message in OutboxMessage.objects.filter(type="AccountDrifted").order_by("sequence")
    ]


def test_an_account_closed_directly_in_aws_is_marked_closed(aws: EmulatedAws, demo_payer: Any) -> None:
    aws_id = _create(aws, "closing")
    account = _vended(aws_id, ou_id=_root(aws))
    aws.client("organizations").close_account(AccountId=aws_id)

    report = accounts.accounts_reconcile(payer="demo")

    account.refresh_from_db()
    assert report.closed == (aws_id,)
    assert account.status == ManagedAccount.Status.CLOSED
    assert account.closed_at is not None
    assert "closed outside Bespoke" in account.drift
    assert [(e["kind"], e["aws_account_id"]) for e in _drift_events()] == [("closed", aws_id)]


def test_an_account_created_directly_in_aws_is_recorded_unmanaged_once(aws: EmulatedAws, demo_payer: Any) -> None:
    aws_id = _create(aws, "stranger")

    first = accounts.accounts_reconcile(payer="demo")
    second = accounts.accounts_reconcile(payer="demo")

    assert first.discovered == (aws_id,)  # the management account itself is not "discovered"
    assert second.discovered == ()
    account = ManagedAccount.objects.get(aws_account_id=aws_id)
    assert account.status == ManagedAccount.Status.UNMANAGED
    assert account.source == ManagedAccount.Source.DISCOVERED
    assert account.request_id is None
    assert account.email == "stranger@example.com"
    assert account.ou_id == _root(aws)
    assert account.last_seen_at is not None
    assert ManagedAccount.objects.count() == 1
    assert [(e["kind"], e["aws_account_id"]) for e in _drift_events()] == [("discovered", aws_id)]


def test_an_account_moved_directly_in_aws_follows_its_new_ou(aws: EmulatedAws, demo_payer: Any) -> None:
    org = aws.client("organizations")
    root = _root(aws)
    ou = org.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    aws_id = _create(aws, "wanderer")
    account = _vended(aws_id, ou_id=root)
    org.move_account(AccountId=aws_id, SourceParentId=root, DestinationParentId=ou)

    report = accounts.accounts_reconcile(payer="demo")

    account.refresh_from_db()
    assert report.moved == (aws_id,)
    assert account.ou_id == ou
    assert f"moved outside Bespoke from {root} to {ou}" in account.drift
    assert account.status == ManagedAccount.Status.ACTIVE
    assert [e["kind"] for e in _drift_events()] == ["moved"]


def test_an_account_whose_ou_was_never_known_learns_it_silently(aws: EmulatedAws, demo_payer: Any) -> None:
    aws_id = _create(aws, "quiet")
    account = _vended(aws_id)

    accounts.accounts_reconcile(payer="demo")

    account.refresh_from_db()
    assert account.ou_id == _root(aws)
    assert account.drift == ""
    assert _drift_events() == []


def test_a_second_pass_over_an_unchanged_organization_records_nothing(aws: EmulatedAws, demo_payer: Any) -> None:
    org = aws.client("organizations")
    root = _root(aws)
    ou = org.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    closed, moved, steady = _create(aws, "gone"), _create(aws, "moved"), _create(aws, "steady")
    _create(aws, "unknown")
    for aws_id, name in ((closed, "gone"), (moved, "moved"), (steady, "steady")):
        _vended(aws_id, ou_id=root, name=name)
    org.close_account(AccountId=closed)
    org.move_account(AccountId=moved, SourceParentId=root, DestinationParentId=ou)

    first = accounts.accounts_reconcile(payer="demo")
    events_after_first = OutboxMessage.objects.count()
    later = clock.now() + timedelta(minutes=15)
    clock.set_source(lambda: later)
    try:
        second = accounts.accounts_reconcile(payer="demo")
    finally:
        clock.set_source(None)

    assert (len(first.closed), len(first.moved), len(first.discovered)) == (1, 1, 1)
    assert (second.closed, second.moved, second.discovered) == ((), (), ())
    assert OutboxMessage.objects.count() == events_after_first == 3
    assert ManagedAccount.objects.get(aws_account_id=steady).last_seen_at == later


def test_every_active_payer_is_reconciled_and_an_aws_failure_is_reported(
    aws: EmulatedAws, demo_payer: Any, settings: Any
) -> None:
    _create(aws, "stranger")
    factories.payer(
        "broken",
        management_account_id="999999999999",
        management_role_arn="arn:aws:iam::999999999999:role/Nope",
        email_division="b",
        allowed_environments=["dev"],
        allowed_regions=["us-east-1"],
    )
    inject(settings, "sts:AssumeRole:AccessDenied")

    outcome = accounts.accounts_reconcile_all()

    assert outcome["demo"]["discovered"] == 1
    assert outcome["broken"] == {"error": "AccessDenied"}


def test_an_account_bespoke_is_closing_is_left_to_its_workflow(aws: EmulatedAws, demo_payer: Any) -> None:
    aws_id = _create(aws, "leaving")
    account = _vended(aws_id, ou_id=_root(aws))
    ManagedAccount.objects.filter(pk=account.pk).update(status=ManagedAccount.Status.CLOSING)
    aws.client("organizations").close_account(AccountId=aws_id)

    report = accounts.accounts_reconcile(payer="demo")

    account.refresh_from_db()
    assert report.closed == ()
    assert account.status == ManagedAccount.Status.CLOSING
    assert account.last_seen_at is not None
    assert _drift_events() == []


def test_the_reconcile_command_runs_both_pollers_once(aws: EmulatedAws, demo_payer: Any) -> None:
    aws_id = _create(aws, "stranger")
    out = StringIO()

    call_command("reconcile", stdout=out)

    assert {"accounts.reconcile", "compliance.poll"} <= {job.name for job in JOBS}
    assert 'accounts.reconcile: {"demo": {"closed": 0, "discovered": 1' in out.getvalue()
    assert 'compliance.poll: {"failed": 0, "non_compliant": 0, "polled": 0}' in out.getvalue()
    assert ManagedAccount.objects.get(aws_account_id=aws_id).status == ManagedAccount.Status.UNMANAGED


def test_drift_reaches_webhook_subscribers(aws: EmulatedAws, demo_payer: Any, make_api_client: Any) -> None:
    from apps.notifications.models import WebhookDelivery
    from apps.notifications.services import subscription_create
    from tests.support.bus import drain

    client_id = make_api_client().issued.client_id  # granted the payer demo
    subscription = subscription_create(client_id=client_id, url="http://127.0.0.1:9/hook", events=["account.drifted"])
    aws_id = _create(aws, "stranger")

    accounts.accounts_reconcile(payer="demo")
    assert "AccountDrifted" in drain()

    delivery = WebhookDelivery.objects.get(subscription_id=subscription.subscription.id)
    assert delivery.event_type == "account.drifted"
    assert delivery.payload["data"] == {
        "account_id": aws_id,
        "payer": "demo",
        "kind": "discovered",
        "detail": delivery.payload["data"]["detail"],
    }
