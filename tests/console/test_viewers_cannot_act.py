"""Every action of every admin declares the permission it needs, and a view-only staff
user (the ``viewers`` group) is refused each one: it is not offered on the page, and
posting it anyway changes nothing. Generated from the admin's registry, so a new action
is covered — or fails here for want of a permission — without touching this file."""

from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin import ActionLocation
from django.db import models
from django.test import Client
from django.urls import reverse

from tests.console import rows
from tests.console.actions import ACTIONS, IDS, offered
from tests.support.staff import VIEWERS, logged_in, staff_in

pytestmark = pytest.mark.django_db

# What a refused attempt still leaves behind: its audit entry, the session, the admin's log.
BOOKKEEPING = frozenset({"audit.auditentry", "sessions.session", "admin.logentry"})


def test_the_registry_has_the_actions_operators_know() -> None:
    names = {f"{model._meta.label_lower}:{name}" for model, _, _, name, _ in ACTIONS}

    assert {
        "intake.accountrequest:approve",
        "intake.accountrequest:reject",
        "intake.accountrequest:retry",
        "intake.accountrequest:cancel",
        "accounts.managedaccount:reapply_baseline",
        "workflow.steprun:reapply",
        "kernel.deadletter:redrive",
        "kernel.deadletter:discard",
        "notifications.webhookdelivery:redeliver",
    } <= names


@pytest.mark.parametrize(("model", "model_admin", "location", "name", "func"), ACTIONS, ids=IDS)
def test_every_action_declares_the_permission_it_needs(
    model: type[models.Model], model_admin: Any, location: ActionLocation, name: str, func: Any
) -> None:
    permissions = getattr(func, "allowed_permissions", ())

    assert permissions, f"{model._meta.label} action {name!r}: declare @admin.action(permissions=[...])"
    for permission in permissions:
        assert callable(getattr(model_admin, f"has_{permission}_permission", None)), (
            f"{type(model_admin).__name__} needs has_{permission}_permission for its action {name!r}"
        )


def state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the bookkeeping."""
    return {
        model._meta.label_lower: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.label_lower not in BOOKKEEPING
    }


@pytest.mark.parametrize(("model", "model_admin", "location", "name", "func"), ACTIONS, ids=IDS)
def test_viewers_are_refused_every_action(
    model: type[models.Model], model_admin: Any, location: ActionLocation, name: str, func: Any
) -> None:
    rows.every_model()
    viewer = logged_in(staff_in(VIEWERS))
    selected = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)]
    assert selected, f"tests/console/rows.py makes no {model._meta.label}: add one so its actions are tried"
    meta = model._meta
    before = state()

    if location == ActionLocation.CHANGE_LIST:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        page = viewer.get(url)
        assert page.status_code in (200, 403)  # 403: not even viewed (Django's users and groups)
        html = page.content.decode()
        assert not offered(html, name), f"{name} is offered to a viewer"
        assert 'name="action"' not in html, "a viewer is shown the action dropdown"
        # Straight from the dropdown, then as a confirmation page would post it.
        for extra in ({"index": "0"}, {"post": "yes", "confirm": "yes", "reason": "posted by a viewer"}):
            answer = viewer.post(url, {"action": name, "_selected_action": selected, **extra})
            assert answer.status_code in (200, 302, 403)
    else:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[selected[0]])
        page = viewer.get(url)
        assert page.status_code in (200, 403)
        assert not offered(page.content.decode(), name), f"{name} is offered to a viewer"
        answer = viewer.post(url, {f"{location.value}-action": name, "_selected_action": selected[:1]})
        assert answer.status_code in (302, 400, 403)

    assert state() == before


def test_a_viewer_posting_an_action_sees_the_list_again_and_nothing_changed() -> None:
    made = rows.every_model()
    viewer = logged_in(staff_in(VIEWERS))

    answer = viewer.post(
        "/admin/intake/accountrequest/", {"action": "approve", "_selected_action": [made["awaiting"]], "index": "0"}
    )

    assert answer.status_code == 200
    assert "approved" not in answer.content.decode()
    assert answer.context["cl"].model_admin.get_actions(answer.wsgi_request) == {}


def test_superusers_are_offered_the_actions_viewers_are_not(admin_client: Client) -> None:
    # The check above looks for the dropdown's options as Django renders them.
    rows.every_model()

    html = admin_client.get("/admin/intake/accountrequest/").content.decode()

    assert all(offered(html, name) for name in ("approve", "reject", "retry", "cancel"))
