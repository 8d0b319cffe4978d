"""Staff users of the operator console in its two groups (apps/console/groups.py)."""

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.console.groups import OPERATORS, VIEWERS, groups_ensure

__all__ = ["OPERATORS", "VIEWERS", "groups_as_migrated", "logged_in", "staff_in"]

PASSWORD = "a-long-staff-password"


def groups_as_migrated() -> None:
    """The console's groups as its migrations leave them. A transactional test run earlier
    in the same process empties every table after it (permissions come back with the
    flush's post_migrate, the groups do not): then they are made again, as the migrations
    make them."""
    if Group.objects.filter(name__in=(VIEWERS, OPERATORS)).count() < 2:
        groups_ensure(apps)


def staff_in(group: str, username: str | None = None) -> User:
    """A staff user — not a superuser — with only the permissions of ``group``."""
    groups_as_migrated()
    user = User.objects.create_user(
        username or group.rstrip("s"), f"{username or group}@example.com", PASSWORD, is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(user: User) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser
