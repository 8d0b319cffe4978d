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
    "compliance.view_compliancesnapshot",
)


def may_view_dashboard(request: HttpRequest) -> bool:
    return request.user.has_perms(DASHBOARD_PERMISSIONS)


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Bespoke operations"
    site_title = "Bespoke"
    index_title = "Account vending"
    site_url = None  # no public site to "view": the console is the only page there is

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().each_context(request), "can_view_dashboard": may_view_dashboard(request)}

    def get_urls(self) -> list[Any]:
        # Imported here, not at module level: this module loads while the app registry
        # is still being populated, and the views reach the contexts' models.
        from apps.console import views
        from apps.console.actions import ACTIONS

        # The page of each kind of thing; its buttons post below it, one URL (and name) per
        # action, so the audit log names what was done ("admin:console_request_cancel").
        pages = {
            "run": ("runs/<str:run_id>/", views.run_page),
            "request": ("requests/<str:request_id>/", views.request_page),
            "command": ("commands/<str:command_id>/", views.command_page),
            "account": ("managed-accounts/<str:account_id>/", views.account_page),
        }
        return [
            path("dashboard/", self.admin_view(views.dashboard), name="dashboard"),
            path("search/", self.admin_view(views.search_page), name="console_search"),
            *(path(route, self.admin_view(view), name=f"console_{kind}") for kind, (route, view) in pages.items()),
            *(
                path(
                    f"{pages[subject][0]}{name}/",
                    self.admin_view(views.act),
                    {"subject": subject, "action": name},
                    name=f"console_{subject}_{name}",
                )
                for subject, name in ACTIONS
            ),
            *super().get_urls(),
        ]


class ConsoleAdminConfig(AdminConfig):
    default_site = "apps.console.sites.ConsoleAdminSite"
