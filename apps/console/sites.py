"""The admin site with the operator dashboard among its URLs.

Installed in place of ``django.contrib.admin`` (see ``ConsoleAdminConfig``) so every
``admin.site.register`` call across the contexts lands on this site, and the dashboard
lives in the ``admin`` namespace behind the admin's own staff login.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.urls import path

# What the charts are drawn from: whoever may view these in the admin (the viewers group
# among them) may see them summed up; staff who may not are refused.
DASHBOARD_PERMISSIONS = (
    "intake.view_accountrequest",
    "workflow.view_run",
    "workflow.view_steprun",
    "accounts.view_managedaccount",
    "network.view_ippool",
)


def may_view_dashboard(request: HttpRequest) -> bool:
    return request.user.has_perms(DASHBOARD_PERMISSIONS)


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Bespoke operations"
    site_title = "Bespoke"
    index_title = "Account vending"

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().each_context(request), "can_view_dashboard": may_view_dashboard(request)}

    def get_urls(self) -> list[Any]:
        # Imported here, not at module level: this module loads while the app registry
        # is still being populated, and the views reach the contexts' models.
        from apps.console.views import dashboard

        return [path("dashboard/", self.admin_view(dashboard), name="dashboard"), *super().get_urls()]


class ConsoleAdminConfig(AdminConfig):
    default_site = "apps.console.sites.ConsoleAdminSite"
