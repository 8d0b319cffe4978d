"""Tailor's paths, at the root as Tailor had them (a trailing slash is tolerated). Any
other path outside v1 and the admin answers Tailor's JSON 404 (``project/urls.py``)."""

from django.urls import re_path

from apps.intake.legacy.operations import (
    LegacyAccountIdsView,
    LegacyAccountsView,
    LegacyCloudabilityView,
    LegacyCloudTrailView,
    LegacyConfigRulesView,
    LegacyConfigView,
    LegacyVpcDnsView,
    LegacyVpcFlowLogsView,
)
from apps.intake.legacy.views import LegacyRequestStatusQueryView, LegacyRequestStatusView

ACCOUNT = r"(?P<aws_account_id>[^/]+)"

urlpatterns = [
    re_path(r"^accounts/?$", LegacyAccountsView.as_view(), name="legacy-accounts"),
    re_path(r"^account/?$", LegacyAccountsView.as_view(), name="legacy-account"),
    re_path(r"^accounts/ids/?$", LegacyAccountIdsView.as_view(), name="legacy-account-ids"),
    re_path(r"^requeststatus/?$", LegacyRequestStatusQueryView.as_view(), name="legacy-request-status-query"),
    re_path(
        r"^requeststatus/(?P<request_id>[^/]+)/?$", LegacyRequestStatusView.as_view(), name="legacy-request-status"
    ),
    re_path(r"^vpcflowlogs/?$", LegacyVpcFlowLogsView.as_view(), name="legacy-vpcflowlogs"),
    re_path(r"^vpcdns/?$", LegacyVpcDnsView.as_view(), name="legacy-vpcdns"),
    re_path(r"^configrules/?$", LegacyConfigRulesView.as_view(), name="legacy-configrules"),
    re_path(rf"^cloudtrail/{ACCOUNT}/?$", LegacyCloudTrailView.as_view(), name="legacy-cloudtrail"),
    re_path(rf"^config/{ACCOUNT}/?$", LegacyConfigView.as_view(), name="legacy-config"),
    re_path(rf"^cloudability/{ACCOUNT}/?$", LegacyCloudabilityView.as_view(), name="legacy-cloudability"),
]
