"""Operators' API for dead letters: list, inspect, redrive one or many, discard with a reason."""

from dataclasses import asdict
from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.contracts import OPERATIONS_ADMIN, Principal
from apps.kernel.deadletters import (
    DeadLetterSummary,
    dead_letter_discard,
    dead_letter_get,
    dead_letter_list,
    dead_letter_redrive,
)
from apps.kernel.errors import ApplicationError
from apps.kernel.models import DeadLetter
from apps.kernel.openapi import ErrorSerializer, links_to
from apps.kernel.rest import BodySerializer, PageQuerySerializer, iso, page_query, page_response


def _present(letter: DeadLetterSummary) -> dict[str, Any]:
    return {**asdict(letter), "created_at": iso(letter.created_at), "resolved_at": iso(letter.resolved_at)}


def _actor(request: Request) -> str:
    principal: Principal = request.user  # type: ignore[assignment]
    return f"api:{principal.name}"


class DeadLetterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    message_id = serializers.CharField()
    message_type = serializers.CharField()
    handler = serializers.CharField()
    envelope = serializers.DictField()
    error_code = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField()
    history = serializers.ListField(child=serializers.DictField())
    state = serializers.CharField()
    resolution = serializers.CharField(allow_blank=True)
    resolved_by = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class DeadLetterListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = DeadLetterSerializer(many=True)


class RedriveResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    redriven = serializers.BooleanField()
    resolution = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    message = serializers.CharField(required=False)


class BulkRedriveResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = RedriveResultSerializer(many=True)


_NOT_PENDING = OpenApiResponse(ErrorSerializer, description="The dead letter is already resolved.")


class ListQuery(PageQuerySerializer):
    state = serializers.ChoiceField(choices=DeadLetter.State.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)


class DeadLetterCollectionView(APIView):
    required_scopes = (OPERATIONS_ADMIN,)
    requires_all_payers = True
    openapi_links = {
        "GET": {
            "200": links_to(
                ("dead_letters_retrieve", "dead_letters_redrive", "dead_letters_discard"),
                dead_letter_id="$response.body#/results/0/id",
            )
        }
    }

    @extend_schema(
        operation_id="dead_letters_list",
        summary="List dead letters",
        parameters=[ListQuery],
        responses=DeadLetterListSerializer,
    )
    def get(self, request: Request) -> Response:
        query = page_query(ListQuery, request)
        total, letters = dead_letter_list(state=query.get("state"), limit=query["limit"], offset=query["offset"])
        return page_response(DeadLetterListSerializer, count=total, results=[_present(letter) for letter in letters])


class DeadLetterDetailView(APIView):
    required_scopes = (OPERATIONS_ADMIN,)
    requires_all_payers = True

    @extend_schema(operation_id="dead_letters_retrieve", summary="A dead letter", responses=DeadLetterSerializer)
    def get(self, request: Request, dead_letter_id: str) -> Response:
        return Response(DeadLetterSerializer(_present(dead_letter_get(dead_letter_id=dead_letter_id))).data)


class DeadLetterRedriveView(APIView):
    required_scopes = (OPERATIONS_ADMIN,)
    requires_all_payers = True

    @extend_schema(
        operation_id="dead_letters_redrive",
        summary="Redrive a dead letter",
        request=None,
        responses={202: DeadLetterSerializer, 409: _NOT_PENDING},
    )
    def post(self, request: Request, dead_letter_id: str) -> Response:
        letter = dead_letter_redrive(dead_letter_id=dead_letter_id, by=_actor(request))
        return Response(DeadLetterSerializer(_present(letter)).data, status=status.HTTP_202_ACCEPTED)


class BulkRedriveInput(BodySerializer):
    ids = serializers.ListField(child=serializers.CharField(max_length=36), min_length=1, max_length=500)


class DeadLetterBulkRedriveView(APIView):
    """Redrive many: each is tried on its own; the answer says what happened to each."""

    required_scopes = (OPERATIONS_ADMIN,)
    requires_all_payers = True

    @extend_schema(
        operation_id="dead_letters_redrive_many",
        summary="Redrive many dead letters",
        request=BulkRedriveInput,
        responses={207: BulkRedriveResultSerializer},
    )
    def post(self, request: Request) -> Response:
        body = BulkRedriveInput(data=request.data)
        body.is_valid(raise_exception=True)
        results = []
        for dead_letter_id in dict.fromkeys(body.validated_data["ids"]):
            try:
                letter = dead_letter_redrive(dead_letter_id=dead_letter_id, by=_actor(request))
                results.append({"id": dead_letter_id, "redriven": True, "resolution": letter.resolution})
            except ApplicationError as error:
                results.append({"id": dead_letter_id, "redriven": False, "code": error.code, "message": error.message})
        return Response(BulkRedriveResultSerializer({"results": results}).data, status=status.HTTP_207_MULTI_STATUS)


class DiscardInput(BodySerializer):
    reason = serializers.CharField(max_length=2000)


class DeadLetterDiscardView(APIView):
    required_scopes = (OPERATIONS_ADMIN,)
    requires_all_payers = True

    @extend_schema(
        operation_id="dead_letters_discard",
        summary="Discard a dead letter, with a reason",
        request=DiscardInput,
        responses={200: DeadLetterSerializer, 409: _NOT_PENDING},
    )
    def post(self, request: Request, dead_letter_id: str) -> Response:
        body = DiscardInput(data=request.data)
        body.is_valid(raise_exception=True)
        letter = dead_letter_discard(
            dead_letter_id=dead_letter_id, reason=body.validated_data["reason"], by=_actor(request)
        )
        return Response(DeadLetterSerializer(_present(letter)).data)


urlpatterns = [
    path("dead-letters", DeadLetterCollectionView.as_view(), name="dead-letter-collection"),
    path("dead-letters/redrive", DeadLetterBulkRedriveView.as_view(), name="dead-letter-bulk-redrive"),
    path("dead-letters/<str:dead_letter_id>", DeadLetterDetailView.as_view(), name="dead-letter-detail"),
    path("dead-letters/<str:dead_letter_id>/redrive", DeadLetterRedriveView.as_view(), name="dead-letter-redrive"),
    path("dead-letters/<str:dead_letter_id>/discard", DeadLetterDiscardView.as_view(), name="dead-letter-discard"),
]
