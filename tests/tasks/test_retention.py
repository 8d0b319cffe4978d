"""The retention job prunes each growing table by its own setting; a redelivery inside
the inbox's window is still refused; the audit log is never pruned."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from apps.accounts.models import QuotaBucket
from apps.audit.models import AuditEntry
from apps.compliance.models import ComplianceSnapshot
from apps.intake.models import IdempotencyKey
from apps.kernel import clock, ids
from apps.kernel.models import OutboxMessage, ProcessedMessage
from apps.kernel.outbox import record
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from apps.workflow.contracts import RunStarted
from tasks import consumers
from tasks.periodic import JOBS
from tasks.retention import prune
from tasks.subscriptions import EVENT_SUBSCRIBERS

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
[INTAKE_ON_RUN_STARTED] = [s for s in EVENT_SUBSCRIBERS["RunStarted"] if s.name == "intake.on_run_started"]


@pytest.fixture
def at() -> Iterator[list[datetime]]:
    """The clock, at NOW; set ``at[0]`` to move it."""
    current = [NOW]
    clock.set_source(lambda: current[0])
    yield current
    clock.set_source(None)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def test_idempotency_keys_go_after_a_day(at: list[datetime]) -> None:
    for key, created in (("old", ago(hours=25)), ("new", ago(hours=23))):
        IdempotencyKey.objects.create(client_id="c", key=key, fingerprint="f", request_id="r", created_at=created)

    assert prune()["idempotency_keys"] == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_published_outbox_rows_go_after_their_window_and_the_unpublished_stay(
    at: list[datetime], settings: Any
) -> None:
    settings.RETENTION_OUTBOX_DAYS = 15
    for n, published, parked_as in (
        (1, ago(days=16), ""),
        (2, ago(days=14), ""),
        (3, None, ""),
        (4, None, "dead_letter"),
        (5, None, "no_subscribers"),
    ):
        OutboxMessage.objects.create(
            message_id=f"m-{n}",
            sequence=n,
            type="RunStarted",
            aggregate_id="a",
            envelope={},
            recorded_at=ago(days=20),
            published_at=published,
            parked_at=ago(days=20) if parked_as else None,
            parked_as=parked_as,
        )

    assert prune()["outbox"] == 2
    assert sorted(OutboxMessage.objects.values_list("message_id", flat=True)) == ["m-2", "m-3", "m-4"]


def test_a_redelivery_inside_the_inbox_window_is_still_refused(at: list[datetime], settings: Any) -> None:
    settings.RETENTION_INBOX_DAYS = 15
    calls: list[Any] = []
    import apps.intake.handlers as handlers

    original = handlers.on_run_started
    handlers.on_run_started = lambda event: calls.append(event)  # type: ignore[assignment]
    try:
        event = RunStarted(run_id="run-1", request_id="request-1")
        consumers.handle_event(INTAKE_ON_RUN_STARTED, event.to_envelope())
        at[0] = NOW + timedelta(days=14, hours=23)  # just inside the window
        prune()
        consumers.handle_event(INTAKE_ON_RUN_STARTED, event.to_envelope())
        assert len(calls) == 1  # refused: still in the inbox

        at[0] = NOW + timedelta(days=15, minutes=1)
        assert prune()["inbox"] == 1
        assert not ProcessedMessage.objects.exists()
    finally:
        handlers.on_run_started = original  # type: ignore[assignment]


def test_finished_webhook_deliveries_go_after_their_window_and_pending_ones_stay(at: list[datetime]) -> None:
    subscription = WebhookSubscription.objects.create(id=ids.new_id(), client_id="c", url="https://x", created_at=NOW)
    for n, state, created in (
        (1, "succeeded", ago(days=31)),
        (2, "failed", ago(days=31)),
        (3, "pending", ago(days=31)),
        (4, "succeeded", ago(days=29)),
    ):
        WebhookDelivery.objects.create(
            id=f"d-{n}", subscription=subscription, event_id=f"e-{n}", event_type="run.succeeded", payload={},
            state=state, created_at=created,
        )  # fmt: skip

    assert prune()["webhook_deliveries"] == 2
    assert sorted(WebhookDelivery.objects.values_list("id", flat=True)) == ["d-3", "d-4"]


def test_old_snapshots_go_but_each_accounts_latest_and_every_change_stay(at: list[datetime]) -> None:
    ok = [{"rule": "r", "compliance": "COMPLIANT"}]
    bad = [{"rule": "r", "compliance": "NON_COMPLIANT"}]
    readings = [(40, ok, True), (39, ok, True), (38, bad, False), (37, bad, False), (36, ok, True), (35, ok, True)]
    for days_ago, rules, compliant in readings:
        ComplianceSnapshot.objects.create(
            id=f"s-{days_ago}", aws_account_id="111111111111", payer="demo", taken_at=ago(days=days_ago),
            rules=rules, compliant=compliant,
        )  # fmt: skip
    ComplianceSnapshot.objects.create(
        id="other", aws_account_id="222222222222", payer="demo", taken_at=ago(days=50), rules=ok, compliant=True
    )

    assert prune()["compliance_snapshots"] == 2
    kept = sorted(ComplianceSnapshot.objects.values_list("id", flat=True))
    assert kept == ["other", "s-35", "s-36", "s-38", "s-40"]  # first, the changes, each latest


def test_unused_quota_buckets_go(at: list[datetime]) -> None:
    QuotaBucket.objects.create(organization_id="111111111111", name="CreateAccount", tokens=3, updated_at=ago(days=31))
    QuotaBucket.objects.create(organization_id="222222222222", name="CreateAccount", tokens=3, updated_at=ago(days=1))

    assert prune()["quota_buckets"] == 1
    assert list(QuotaBucket.objects.values_list("organization_id", flat=True)) == ["222222222222"]


def test_the_audit_log_is_never_pruned(at: list[datetime]) -> None:
    before = AuditEntry.objects.count()
    with transaction.atomic():
        record(RunStarted(run_id="run-1", request_id="request-1"))
    at[0] = NOW + timedelta(days=3650)

    prune()

    assert AuditEntry.objects.count() == before
    assert {"retention.prune"} <= {job.name for job in JOBS}


def test_the_management_command_prunes_and_says_how_much(at: list[datetime]) -> None:
    IdempotencyKey.objects.create(client_id="c", key="k", fingerprint="f", request_id="r", created_at=ago(days=2))
    out = StringIO()

    call_command("prune", stdout=out)

    assert "idempotency_keys: 1 deleted" in out.getvalue()
    assert not IdempotencyKey.objects.exists()
