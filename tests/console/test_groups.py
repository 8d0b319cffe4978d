"""After ``migrate`` the console has two groups: ``viewers`` may view every model of the
contexts and nothing else; ``operators`` may also run every admin action and keep the
configuration (payers, blueprints, IP pools, API clients and their grants, webhook
subscriptions). Making them again changes nothing."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from apps.console.groups import CONTEXT_APPS, OPERATORS, VIEWERS, groups_ensure
from tests.support.staff import groups_as_migrated

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _migrated_groups() -> None:
    groups_as_migrated()


CONFIGURATION = {
    "accounts.add_payer",
    "accounts.change_payer",
    "accounts.add_blueprint",
    "accounts.change_blueprint",
    "accounts.add_servicecontrolpolicy",
    "accounts.change_servicecontrolpolicy",
    "network.add_ippool",
    "network.change_ippool",
    "network.add_vlanpool",
    "network.change_vlanpool",
    "clients.change_apiclient",
    "clients.add_payergrant",
    "clients.change_payergrant",
    "clients.delete_payergrant",
    "notifications.add_webhooksubscription",
    "notifications.change_webhooksubscription",
}
ACTIONS = {
    "intake.approve_accountrequest",
    "intake.reject_accountrequest",
    "intake.retry_accountrequest",
    "intake.cancel_accountrequest",
    "accounts.reapply_managedaccount",
    "accounts.approve_accountcommand",
    "accounts.reject_accountcommand",
    "workflow.reapply_steprun",
    "kernel.redrive_deadletter",
    "kernel.discard_deadletter",
    "notifications.redeliver_webhookdelivery",
    "notifications.rotate_secret",
}


def granted(group: str) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def context_models() -> list[type]:
    return [model for model in apps.get_models() if model._meta.app_label in CONTEXT_APPS]


def every_view_permission() -> set[str]:
    return {f"{m._meta.app_label}.view_{m._meta.model_name}" for m in context_models()}


def every_declared_permission() -> set[str]:
    """Each ``Meta.permissions`` entry of every context's models: the admin actions'."""
    return {f"{m._meta.app_label}.{codename}" for m in context_models() for codename, _ in m._meta.permissions}


def test_viewers_may_view_every_model_of_the_contexts_and_nothing_more() -> None:
    viewers = granted(VIEWERS)

    assert viewers == every_view_permission()
    assert {"intake.view_accountrequest", "kernel.view_deadletter", "audit.view_auditentry"} <= viewers
    assert not {"auth.view_user", "auth.view_group"} & viewers


def test_operators_may_run_every_action_and_keep_the_configuration() -> None:
    operators = granted(OPERATORS)

    assert operators == every_view_permission() | ACTIONS | CONFIGURATION


def test_every_permission_a_model_declares_is_given_to_the_operators() -> None:
    # A new action's permission that no migration hands out fails here, not in production.
    assert every_declared_permission() == ACTIONS
    assert every_declared_permission() <= granted(OPERATORS)


def test_nothing_is_deleted_by_an_operator_but_a_payer_grant() -> None:
    deletions = {name for name in granted(OPERATORS) if name.split(".")[1].startswith("delete_")}

    assert deletions == {"clients.delete_payergrant"}


def test_making_the_groups_again_changes_nothing() -> None:
    before = {group: granted(group) for group in (VIEWERS, OPERATORS)}
    permissions = Permission.objects.count()

    groups_ensure(apps)
    groups_ensure(apps)

    assert Group.objects.filter(name__in=[VIEWERS, OPERATORS]).count() == 2
    assert {group: granted(group) for group in (VIEWERS, OPERATORS)} == before
    assert Permission.objects.count() == permissions


def test_the_groups_come_back_with_their_permissions_when_deleted() -> None:
    Group.objects.filter(name=OPERATORS).delete()
    Group.objects.get(name=VIEWERS).permissions.remove(*Permission.objects.filter(codename="view_deadletter"))

    groups_ensure(apps)

    assert granted(OPERATORS) == every_view_permission() | ACTIONS | CONFIGURATION
    assert granted(VIEWERS) == every_view_permission()
