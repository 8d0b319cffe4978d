"""``GET /v1/audit-events``: the audit log for operators, newest first."""

from dataclasses import asdict
from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.contracts import CLIENT, OPERATOR, SYSTEM, AuditEvent
from apps.audit.selectors import event_list
from apps.clients.contracts import OPERATIONS_ADMIN
from apps.kernel.rest import PageQuerySerializer, iso, page_query, page_response


class AuditQuerySerializer(PageQuerySerializer):
    actor = serializers.CharField(required=False, max_length=200)
    action = serializers.CharField(required=False, max_length=200)
    target_id = serializers.CharField(required=False, max_length=200)
    since = serializers.DateTimeField(required=False)


class AuditEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    at = serializers.DateTimeField()
    actor_type = serializers.ChoiceField(choices=[CLIENT, OPERATOR, SYSTEM])
    actor = serializers.CharField(allow_blank=True)
    action = serializers.CharField()
    target_type = serializers.CharField(allow_blank=True)
    target_id = serializers.CharField(allow_blank=True)
    source_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    request_id = serializers.CharField(allow_blank=True)
    status_code = serializers.IntegerField(allow_null=True)
    before = serializers.JSONField(allow_null=True, help_text="The resource before the change, if any.")
    after = serializers.JSONField(allow_null=True, help_text="The resource after the change, if any.")


class AuditEventListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = AuditEventSerializer(many=True)


def present(event: AuditEvent) -> dict[str, Any]:
    return {**asdict(event), "at": iso(event.at)}


class AuditEventCollectionView(APIView):
    required_scopes = (OPERATIONS_ADMIN,)
    requires_all_payers = True

    @extend_schema(
        operation_id="audit_events_list",
        summary="The audit log, newest first",
        parameters=[AuditQuerySerializer],
        responses=AuditEventListSerializer,
    )
    def get(self, request: Request) -> Response:
        total, events = event_list(**page_query(AuditQuerySerializer, request))
        return page_response(AuditEventListSerializer, count=total, results=[present(event) for event in events])


urlpatterns = [
    path("audit-events", AuditEventCollectionView.as_view(), name="audit-event-collection"),
]
