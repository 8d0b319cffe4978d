"""Every registered admin page answers, styled, with status pills where statuses show."""

import json
from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Blueprint
from apps.kernel.models import DeadLetter
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from tests.console.conftest import NOW, make_account, make_payer, make_pool, make_request, make_step

pytestmark = pytest.mark.django_db

MODELS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize(("model", "model_admin"), MODELS, ids=[m._meta.label for m, _ in MODELS])
def test_changelist_and_add_pages_answer_for_a_superuser(staff: Client, model: type, model_admin: object) -> None:
    meta = model._meta  # type: ignore[attr-defined]
    changelist = staff.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert changelist.status_code == 200
    assert "console/console.css" in changelist.content.decode()

    request = changelist.wsgi_request
    if model_admin.has_add_permission(request):  # type: ignore[attr-defined]
        add = staff.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
        assert add.status_code == 200


def test_status_columns_render_as_pills(staff: Client) -> None:
    make_request(created_at=NOW, status="failed")
    make_step(name="vpc", state="succeeded", started_at=NOW, seconds=2)
    make_account(payer=make_payer("demo"), environment="dev")
    DeadLetter.objects.create(
        id="dl-1",
        message_id="m-1",
        message_type="RunFailed",
        handler="h",
        envelope={},
        error_code="e",
        error="boom",
        attempts=3,
        created_at=NOW,
    )
    subscription = WebhookSubscription.objects.create(
        id="sub-1", client_id="c-1", url="https://hooks.example.com/x", secret_encrypted="x", created_at=NOW
    )
    WebhookDelivery.objects.create(
        id="d-1",
        subscription=subscription,
        event_id="e-1",
        event_type="run.failed",
        payload={},
        state="failed",
        created_at=NOW,
    )

    expected = {
        "intake/accountrequest": '<span class="pill pill-bad" data-status="failed">failed</span>',
        "workflow/run": '<span class="pill pill-ok" data-status="succeeded">succeeded</span>',
        "workflow/steprun": '<span class="pill pill-ok" data-status="succeeded">succeeded</span>',
        "accounts/managedaccount": '<span class="pill pill-ok" data-status="active">active</span>',
        "kernel/deadletter": '<span class="pill pill-bad" data-status="open">open</span>',
        "notifications/webhookdelivery": '<span class="pill pill-bad" data-status="failed">failed</span>',
    }
    for path, pill in expected.items():
        html = staff.get(f"/admin/{path}/").content.decode()
        assert pill in html, path


def test_the_run_timeline_uses_the_console_palette(staff: Client) -> None:
    step = make_step(name="vpc", state="failed", started_at=NOW, seconds=2)

    html = staff.get(f"/admin/runs/{step.run_id}/").content.decode()

    assert '<div class="bar failed"' in html  # .console-timeline .failed: var(--bespoke-bad)
    assert '<span class="pill pill-bad" data-status="failed">failed</span>' in html


def test_ip_pools_show_their_utilisation_as_a_bar(staff: Client) -> None:
    pool = make_pool(cidr="10.0.0.0/24", name="quarter", allocations=["10.0.0.0/26"])

    listing = staff.get("/admin/network/ippool/").content.decode()
    page = staff.get(f"/admin/network/ippool/{pool.id}/change/").content.decode()

    for html in (listing, page):
        assert '<span class="usage" data-value="25.0">' in html
        assert 'style="width: 25.0%"' in html
        assert "25.0% (64 of 256 addresses)" in html


def test_webhook_subscriptions_show_their_recent_deliveries(staff: Client) -> None:
    subscription = WebhookSubscription.objects.create(
        id="sub-1", client_id="c-1", url="https://hooks.example.com/x", secret_encrypted="x", created_at=NOW
    )
    for n in range(3):
        WebhookDelivery.objects.create(
            id=f"d-{n}",
            subscription=subscription,
            event_id=f"event-{n}",
            event_type="run.succeeded",
            payload={},
            state="succeeded",
            created_at=NOW + timedelta(minutes=n),
        )

    html = staff.get(f"/admin/notifications/webhooksubscription/{subscription.id}/change/").content.decode()

    assert all(f"event-{n}" in html for n in range(3))
    assert html.index("event-2") < html.index("event-0")  # newest first


def _blueprint_form(payer_id: int, steps: list[dict[str, object]]) -> dict[str, object]:
    return {
        "payer": payer_id,
        "name": "default",
        "description": "",
        "environment": "dev",
        "definition": json.dumps({"steps": steps}),
        "active": "on",
    }


def test_a_blueprint_whose_steps_form_a_cycle_is_refused_on_save(staff: Client) -> None:
    payer = make_payer("demo")
    cyclic = [{"name": "iam", "depends_on": ["vpc"]}, {"name": "vpc", "depends_on": ["iam"]}]

    page = staff.post("/admin/accounts/blueprint/add/", _blueprint_form(payer.pk, cyclic))

    assert page.status_code == 200  # the form again, with the error
    assert "errorlist" in page.content.decode()
    assert not Blueprint.objects.exists()


def test_a_valid_blueprint_is_saved_as_its_first_version(staff: Client) -> None:
    payer = make_payer("demo")

    page = staff.post("/admin/accounts/blueprint/add/", _blueprint_form(payer.pk, [{"name": "iam"}]))

    assert page.status_code == 302
    blueprint = Blueprint.objects.get()
    assert (blueprint.name, blueprint.version, blueprint.versions.count()) == ("default", 1, 1)


def test_a_subscription_page_lists_only_its_newest_deliveries(staff: Client) -> None:
    subscription = WebhookSubscription.objects.create(
        id="sub-1", client_id="c-1", url="https://hooks.example.com/x", secret_encrypted="x", created_at=NOW
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            id=f"d-{n}",
            subscription=subscription,
            event_id=f"event-{n:02d}",
            event_type="run.succeeded",
            payload={},
            state="succeeded",
            created_at=NOW + timedelta(minutes=n),
        )
        for n in range(25)
    )

    html = staff.get(f"/admin/notifications/webhooksubscription/{subscription.id}/change/").content.decode()

    assert "event-24" in html
    assert "event-05" in html
    assert "event-04" not in html
    assert "event-00" not in html
