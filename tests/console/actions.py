"""Every action of every registered admin, read from the admin's registry."""

from typing import Any

from django.contrib import admin
from django.contrib.admin import ActionLocation
from django.db import models


def every_action() -> list[tuple[type[models.Model], Any, ActionLocation, str, Any]]:
    """(model, its admin, where the action is offered, its name, its function) for each
    action of each registered admin, Django's own ``delete_selected`` included."""
    found = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        if model_admin.actions is None:
            continue  # actions switched off: Django offers none, not even the site's
        for location in ActionLocation:
            for action in model_admin._get_base_actions(action_location=location):
                found.append((model, model_admin, location, action.name, action.func))
    return found


ACTIONS = every_action()
IDS = [f"{model._meta.label_lower}:{name}:{location.value}" for model, _, location, name, _ in ACTIONS]


def offered(html: str, name: str) -> bool:
    """Is ``name`` an option of the page's action dropdown (as Django renders it)?"""
    return f'<option value="{name}"' in html
