"""The operator console's two groups: ``viewers`` look, ``operators`` act.

- ``viewers``: view every model of Bespoke's contexts. Django's own users, groups,
  permissions and sessions are not among them: those stay with superusers.
- ``operators``: what viewers see; every permission a context declares in a model's
  ``Meta.permissions`` (one per admin action: approve, retry, redrive, …); and adding or
  changing the configuration operators keep (``CONFIGURATION``). Nothing is deleted by
  an operator except a client's payer grant.

``groups_ensure`` is idempotent and only adds. It takes an app registry, so a migration
runs it against the state it knows; a context that declares a new action permission adds
a migration that runs it again, and the operators have it.
"""

from typing import Any

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, models

VIEWERS = "viewers"
OPERATORS = "operators"

CONTEXT_APPS = frozenset(
    {"accounts", "audit", "clients", "compliance", "intake", "kernel", "network", "notifications", "workflow"}
)

# (app label, model) -> what operators do to it besides viewing.
CONFIGURATION: dict[tuple[str, str], tuple[str, ...]] = {
    ("accounts", "payer"): ("add", "change"),
    ("accounts", "blueprint"): ("add", "change"),
    ("accounts", "servicecontrolpolicy"): ("add", "change"),
    ("network", "ippool"): ("add", "change"),
    ("network", "vlanpool"): ("add", "change"),
    # Clients are created with their first token (manage.py create_client), never here.
    ("clients", "apiclient"): ("change",),
    ("clients", "payergrant"): ("add", "change", "delete"),
    ("notifications", "webhooksubscription"): ("add", "change"),
}

Codename = tuple[str, str, str]  # (app label, model name, permission codename)


def _permissions_ensure(apps: Apps, using: str) -> None:
    """Django creates permissions after ``migrate`` (post_migrate); a migration that hands
    them out creates them first. ``create_permissions`` skips what exists."""
    for app_config in apps.get_app_configs():
        # A migration's app configs are stubs without a models module; create_permissions
        # skips those, so each is marked as having models for the call.
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True  # type: ignore[assignment]
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = had_models


def viewer_codenames(apps: Apps) -> set[Codename]:
    return {
        (model._meta.app_label, str(model._meta.model_name), f"view_{model._meta.model_name}")
        for model in _context_models(apps)
    }


def operator_codenames(apps: Apps) -> set[Codename]:
    present = {(model._meta.app_label, str(model._meta.model_name)) for model in _context_models(apps)}
    actions = {
        (model._meta.app_label, str(model._meta.model_name), codename)
        for model in _context_models(apps)
        for codename, _ in model._meta.permissions
    }
    configuration = {
        (app_label, model_name, f"{verb}_{model_name}")
        for (app_label, model_name), verbs in CONFIGURATION.items()
        if (app_label, model_name) in present  # not yet in the state of an earlier migration
        for verb in verbs
    }
    return viewer_codenames(apps) | actions | configuration


def _context_models(apps: Apps) -> list[type[models.Model]]:
    return [model for model in apps.get_models() if model._meta.app_label in CONTEXT_APPS]


def _permissions(apps: Apps, codenames: set[Codename], using: str) -> list[Any]:
    permission = apps.get_model("auth", "Permission")
    wanted = models.Q(pk__in=[])
    for app_label, model_name, codename in codenames:
        wanted |= models.Q(content_type__app_label=app_label, content_type__model=model_name, codename=codename)
    found = list(permission._default_manager.using(using).filter(wanted))
    if len(found) != len(codenames):
        have = {(p.content_type.app_label, p.content_type.model, p.codename) for p in found}
        raise LookupError(f"Permissions missing: {sorted(codenames - have)}")
    return found


def groups_ensure(apps: Apps, schema_editor: Any = None) -> None:
    """Create ``viewers`` and ``operators`` with their permissions, or add what they lack
    (a migration's ``RunPython`` function: ``apps`` is its state)."""
    using = schema_editor.connection.alias if schema_editor is not None else DEFAULT_DB_ALIAS
    _permissions_ensure(apps, using)
    group = apps.get_model("auth", "Group")
    for name, codenames in ((VIEWERS, viewer_codenames(apps)), (OPERATORS, operator_codenames(apps))):
        row, _ = group._default_manager.using(using).get_or_create(name=name)
        row.permissions.add(*_permissions(apps, codenames, using))
