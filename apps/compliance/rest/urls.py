from django.urls import path

from apps.compliance.rest.views import ComplianceListView

urlpatterns = [
    path("compliance", ComplianceListView.as_view(), name="compliance-list"),
]
