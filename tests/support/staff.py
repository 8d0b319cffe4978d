"""Staff users of the operator console in its two groups (apps/console/groups.py)."""

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.console.groups import OPERATORS, VIEWERS, groups_ensure

__all__ = ["OPERATORS", "VIEWERS", "logged_in", "staff_in"]

PASSWORD = "a-long-staff-password"


def staff_in(group: str, username: str | None = None) -> User:
    """A staff user — not a superuser — with only the permissions of ``group``."""
    if not Group.objects.filter(name=group).exists():
        # The migration made the groups; a transactional test empties every table after
        # it runs (permissions come back, the groups don't), so they are made again here.
        groups_ensure(apps)
    user = User.objects.create_user(
        username or group.rstrip("s"), f"{username or group}@example.com", PASSWORD, is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(user: User) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser
