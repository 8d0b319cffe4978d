"""``GET /v1/audit-events``: the audit log for operators, newest first."""

from dataclasses import asdict
from typing import Any

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.contracts import AuditEvent
from apps.audit.selectors import event_list
from apps.clients.contracts import OPERATIONS_ADMIN


class AuditQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    actor = serializers.CharField(required=False, max_length=200)
    action = serializers.CharField(required=False, max_length=200)
    target_id = serializers.CharField(required=False, max_length=200)
    since = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(min_value=0, default=0)


def present(event: AuditEvent) -> dict[str, Any]:
    return {**asdict(event), "at": event.at.isoformat()}


class AuditEventCollectionView(APIView):
    required_scopes = (OPERATIONS_ADMIN,)

    def get(self, request: Request) -> Response:
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        total, events = event_list(**query.validated_data)
        return Response({"count": total, "results": [present(event) for event in events]})


urlpatterns = [
    path("audit-events", AuditEventCollectionView.as_view(), name="audit-event-collection"),
]
