import re
from dataclasses import asdict
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import api as accounts
from apps.clients.contracts import OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE, Principal
from apps.intake.contracts import ACCEPTED, STATUSES, AccountRequestSummary
from apps.intake.plans import request_plan
from apps.intake.rest.serializers import (
    AccountRequestAcceptedSerializer,
    AccountRequestInputSerializer,
    AccountRequestListSerializer,
    AccountRequestPlanSerializer,
    AccountRequestStatusSerializer,
)
from apps.intake.selectors import request_get, request_list
from apps.intake.services import request_approve, request_cancel, request_reject, request_retry, request_submit
from apps.kernel.errors import NotFound
from apps.kernel.openapi import ErrorSerializer, links_to
from apps.kernel.rest import BodySerializer, PageQuerySerializer, iso, page_query, page_response
from apps.workflow import api as workflow

# A real request, as the documentation's example.
EXAMPLE_BODY: dict[str, Any] = {
    "payer": "demo",
    "regulated": False,
    "environment": "dev",
    "region": "us-east-1",
    "vpc": {"az_count": 2, "prefix_length": 24},
    "tags": {"cost_center": "1000100099", "project_name": "My Super Fancy Project", "project_short_name": "msfp"},
    "user_access_list": ["whitew"],
    "technical_contact": {"full_name": "Walter White", "username": "whitew"},
    "requestor": {
        "full_name": "John Doe",
        "username": "doej",
        "manager": "Fred Flinstone",
        "department": "Internal Affairs",
        "email": "john.doe@example.com",
    },
    "external_transaction_id": "RITM00001",
    "comment": "",
}

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise serializers.ValidationError({"Idempotency-Key": ["1-255 printable ASCII characters, no spaces."]})
    return key


def _flag(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no", ""):
        return False
    raise serializers.ValidationError({"dry_run": ["Must be true or false."]})


def _principal(request: Request) -> Principal:
    principal: Principal = request.user  # type: ignore[assignment]
    return principal


def _status_url(request: Request, request_id: str) -> str:
    return request.build_absolute_uri(reverse("v1:account-request-detail", kwargs={"request_id": request_id}))


def present_request(http: Request, summary: AccountRequestSummary) -> dict[str, Any]:
    """The status document: the request, its run's steps and, once created, the account."""
    run_document = workflow.run_document(workflow.run_for_request(request_id=summary.id))
    account = accounts.account_for_request(request_id=summary.id)
    document = {
        "id": summary.id,
        "status": summary.status,
        "status_url": _status_url(http, summary.id),
        "payer": summary.payer,
        "environment": summary.environment,
        "region": summary.region,
        "regions": list(summary.body.get("regions") or [summary.region]),
        "regulated": summary.regulated,
        "account_email": summary.account_email,
        "external_transaction_id": summary.body.get("external_transaction_id", ""),
        "failure": summary.failure or None,
        "approved_by": summary.approved_by or None,
        "approved_at": iso(summary.approved_at),
        "created_at": iso(summary.created_at),
        "updated_at": iso(summary.updated_at),
        "account": {"id": account.id, "email": account.email} if account and account.id else None,
        "run": run_document,
        "steps": run_document["steps"] if run_document else [],
        "request": summary.body,
    }
    return dict(AccountRequestStatusSerializer(document).data)


class ListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=STATUSES, required=False)


# What a request's id leads to (OpenAPI links).
REQUEST_OPERATIONS = (
    "account_requests_retrieve",
    "account_requests_cancel",
    "account_requests_retry",
    "account_requests_approve",
    "account_requests_reject",
)


class AccountRequestCollectionView(APIView):
    """``POST`` a new account request (202 + status URL); ``GET`` the client's requests."""

    required_scopes = {"POST": (REQUESTS_WRITE,), "GET": (REQUESTS_READ,)}
    request_metric = "bespoke_account_requests"
    # The request, its outbox row and its audit entry: one commit.
    audit_in_request_transaction = True
    openapi_links = {
        "POST": {"202": links_to(REQUEST_OPERATIONS, request_id="$response.body#/id")},
        "GET": {"200": links_to(REQUEST_OPERATIONS, request_id="$response.body#/results/0/id")},
    }

    @extend_schema(
        operation_id="account_requests_create",
        summary="Request an account",
        request=AccountRequestInputSerializer,
        parameters=[
            OpenApiParameter(
                "dry_run", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Validate and plan; create nothing."
            ),
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="1-255 printable ASCII characters: a retry with the same key answers as the first call.",
            ),
        ],
        responses={
            202: OpenApiResponse(AccountRequestAcceptedSerializer, description="Accepted; follow `status_url`."),
            200: OpenApiResponse(AccountRequestPlanSerializer, description="The plan of a dry run."),
            400: OpenApiResponse(
                ErrorSerializer,
                description="The body is invalid (`validation_error`), including what the schema cannot say: "
                "an unknown `payer`, or an `environment` or `region` the payer does not allow.",
            ),
            409: OpenApiResponse(ErrorSerializer, description="A live request for the same account exists."),
            422: OpenApiResponse(ErrorSerializer, description="The idempotency key was used with another body."),
        },
        examples=[OpenApiExample("A development account", value=EXAMPLE_BODY, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        principal = _principal(request)
        serializer = AccountRequestInputSerializer(data=request.data, context={"access": principal.access})
        serializer.is_valid(raise_exception=True)
        if _flag(request.query_params.get("dry_run")):
            return Response(request_plan(data=dict(serializer.validated_data)))
        submitted = request_submit(
            principal=principal,
            data=dict(serializer.validated_data),
            idempotency_key=_idempotency_key(request),
        )
        url = _status_url(request, submitted.request.id)
        headers = {"Location": url}
        if submitted.replayed:
            headers["Idempotent-Replayed"] = "true"
        # A replay answers exactly as the first call did, whatever the request's status now.
        return Response(
            {"id": submitted.request.id, "status": ACCEPTED, "status_url": url},
            status=status.HTTP_202_ACCEPTED,
            headers=headers,
        )

    @extend_schema(
        operation_id="account_requests_list",
        summary="List account requests",
        parameters=[ListQuerySerializer],
        responses=AccountRequestListSerializer,
    )
    def get(self, request: Request) -> Response:
        query = page_query(ListQuerySerializer, request)
        total, items = request_list(
            viewer=_principal(request),
            status=query.get("status"),
            limit=query["limit"],
            offset=query["offset"],
        )
        return page_response(
            AccountRequestListSerializer,
            count=total,
            results=[
                {**asdict(item), "created_at": iso(item.created_at), "status_url": _status_url(request, item.id)}
                for item in items
            ],
        )


class AccountRequestDetailView(APIView):
    """The request's status, its steps and, once created, its account."""

    required_scopes = (REQUESTS_READ,)

    @extend_schema(
        operation_id="account_requests_retrieve",
        summary="An account request's status",
        responses=AccountRequestStatusSerializer,
    )
    def get(self, request: Request, request_id: str) -> Response:
        summary = request_get(request_id=request_id, viewer=_principal(request))
        if summary is None:
            raise NotFound(f"No account request {request_id}.")
        return Response(present_request(request, summary))


class CancelInputSerializer(BodySerializer):
    reason = serializers.CharField(max_length=500, required=False, default="cancelled by the client")


def _visible(request: Request, request_id: str) -> AccountRequestSummary:
    """The request, if the caller may see it; 404 otherwise (whether or not it exists)."""
    summary = request_get(request_id=request_id, viewer=_principal(request))
    if summary is None:
        raise NotFound(f"No account request {request_id}.")
    return summary


class _RequestControlView(APIView):
    required_scopes = (REQUESTS_WRITE,)


class AccountRequestRetryView(_RequestControlView):
    """Retry a failed or cancelled request from its failed steps (202, follow the status URL)."""

    @extend_schema(
        operation_id="account_requests_retry",
        summary="Retry a failed or cancelled request",
        request=None,
        responses={
            202: AccountRequestStatusSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The request is not failed or cancelled."),
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        _visible(request, request_id)
        summary = request_retry(request_id=request_id)
        return Response(present_request(request, summary), status=status.HTTP_202_ACCEPTED)


class AccountRequestCancelView(_RequestControlView):
    """Cancel an unfinished request: no further step starts, its CIDR goes back to the pool."""

    @extend_schema(
        operation_id="account_requests_cancel",
        summary="Cancel an unfinished request",
        request=CancelInputSerializer,
        responses={
            200: AccountRequestStatusSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The request is already finished."),
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        _visible(request, request_id)
        body = CancelInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        summary = request_cancel(request_id=request_id, reason=body.validated_data["reason"])
        return Response(present_request(request, summary))


class RejectInputSerializer(BodySerializer):
    reason = serializers.CharField(max_length=500, min_length=1)


class AccountRequestApproveView(APIView):
    """Approve a regulated request that waits for an operator (its run starts: 202)."""

    required_scopes = (OPERATIONS_ADMIN,)

    @extend_schema(
        operation_id="account_requests_approve",
        summary="Approve a request that waits for approval",
        request=None,
        responses={
            202: AccountRequestStatusSerializer,
            403: OpenApiResponse(
                ErrorSerializer,
                description="The caller submitted the request itself (`four_eyes`): another operator must approve.",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The request is not awaiting approval, or its payer is gone (`request_state_conflict`).",
            ),
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        _visible(request, request_id)
        summary = request_approve(request_id=request_id, approver=_principal(request).actor)
        return Response(present_request(request, summary), status=status.HTTP_202_ACCEPTED)


class AccountRequestRejectView(APIView):
    """Refuse a request that waits for approval, with a reason (it ends cancelled)."""

    required_scopes = (OPERATIONS_ADMIN,)

    @extend_schema(
        operation_id="account_requests_reject",
        summary="Reject a request that waits for approval",
        request=RejectInputSerializer,
        responses={
            200: AccountRequestStatusSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="The request is not awaiting approval (`request_state_conflict`)."
            ),
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        _visible(request, request_id)
        body = RejectInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        summary = request_reject(
            request_id=request_id, approver=_principal(request).actor, reason=body.validated_data["reason"]
        )
        return Response(present_request(request, summary))
