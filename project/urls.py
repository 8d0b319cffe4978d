from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from apps.intake import api as intake
from project import docs, health, observability

v1: tuple[list[URLPattern | URLResolver], str] = (
    [
        path("", include("apps.intake.rest.urls")),
        path("", include("apps.accounts.rest.urls")),
        path("", include("apps.notifications.rest.urls")),
        path("", include("tasks.rest")),
        path("", include("apps.clients.rest")),
        path("", include("apps.compliance.rest.urls")),
        path("", include("apps.audit.rest")),
        path("schema", docs.SchemaView.as_view(), name="schema"),
        path("docs", docs.DocsView.as_view(), name="docs"),
    ],
    "v1",
)

urlpatterns = [
    path("v1/", include(v1)),
    # The original service's API, for clients that can't change: translated onto v1.
    path("", include("apps.intake.legacy.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
    path("metrics", observability.MetricsView.as_view(), name="metrics"),
    # Any other path outside v1 and the admin was one of Tailor's: its JSON 404.
    re_path(r"^(?!v1/|admin/|static/)", intake.legacy_not_found, name="legacy-not-found"),
]

admin.site.site_header = "Bespoke operations"
admin.site.site_title = "Bespoke"
admin.site.index_title = "Account vending"
