import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.support.staff import VIEWERS, logged_in, staff_in

pytestmark = pytest.mark.django_db


def test_the_dashboard_url_is_in_the_admin_namespace() -> None:
    assert reverse("admin:dashboard") == "/admin/dashboard/"


def test_anonymous_visitors_are_sent_to_the_admin_login() -> None:
    page = Client().get("/admin/dashboard/")

    assert page.status_code == 302
    assert page["Location"] == "/admin/login/?next=/admin/dashboard/"


def test_users_who_are_not_staff_are_sent_to_the_admin_login() -> None:
    user = get_user_model().objects.create_user("client", "c@example.com", "a-long-password-1")
    browser = Client()
    browser.force_login(user)

    page = browser.get("/admin/dashboard/")

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")


def test_staff_see_every_chart(staff: Client) -> None:
    page = staff.get("/admin/dashboard/")

    assert page.status_code == 200
    html = page.content.decode()
    for name in (
        "requests-per-day",
        "time-to-ready",
        "step-failure-rates",
        "step-durations",
        "accounts-per-payer",
        "pool-utilisation",
        "guardrails-in-place",
    ):
        assert f'data-chart="{name}"' in html


def test_the_admin_index_and_header_link_to_the_dashboard(staff: Client) -> None:
    html = staff.get("/admin/").content.decode()

    assert html.count('href="/admin/dashboard/"') >= 2  # header navigation and the index call-out
    assert "console/console.css" in html
    assert 'class="console-callout-link"' in html


def test_viewers_see_the_dashboard_and_its_links() -> None:
    browser = logged_in(staff_in(VIEWERS))

    assert browser.get("/admin/dashboard/").status_code == 200
    assert browser.get("/admin/").content.decode().count('href="/admin/dashboard/"') >= 2


def test_staff_who_may_not_view_what_it_sums_up_are_refused_and_not_shown_the_link() -> None:
    user = get_user_model().objects.create_user("desk", "d@example.com", "a-long-password-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_webhooksubscription", "view_run"]))
    browser = Client()
    browser.force_login(user)

    assert browser.get("/admin/dashboard/").status_code == 403
    index = browser.get("/admin/")
    assert index.status_code == 200
    assert 'href="/admin/dashboard/"' not in index.content.decode()
