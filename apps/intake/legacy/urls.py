"""Tailor's paths, at the root as Tailor had them (a trailing slash is tolerated)."""

from django.urls import re_path

from apps.intake.legacy.views import LegacyAccountRequestView, LegacyRequestStatusView

urlpatterns = [
    re_path(r"^accounts/?$", LegacyAccountRequestView.as_view(), name="legacy-accounts"),
    re_path(r"^account/?$", LegacyAccountRequestView.as_view(), name="legacy-account"),
    re_path(
        r"^requeststatus/(?P<request_id>[^/]+)/?$", LegacyRequestStatusView.as_view(), name="legacy-request-status"
    ),
]
