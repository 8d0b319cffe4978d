"""Tailor's API on top of v1: its 11 operations, answered as Tailor answered them.

Callers authenticate as API Gateway's IAM authorization had them (``LegacyAuthentication``:
a SigV4 signature with a client's access key pair, the IAM ARN API Gateway names, or a
Bespoke bearer token) and act within their client's scopes and payer grants exactly as
on v1. Bodies are read as JSON whatever the ``Content-Type`` says and answers are JSON
whatever ``Accept`` asks, as old clients were not careful about either. Errors: ``errors``
and ``wire``.

``POST /accounts`` (also ``/account``) goes through what ``POST /v1/account-requests``
does — the v1 serializer, with Tailor's longer limits, and ``request_submit`` — so there
is one set of rules. ``GET /requeststatus/<requestId>`` (or ``?requestId=``) reports an
account request, or a command one of the per-service ``PUT``s started (``operations``).
"""

import re
from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import api as accounts
from apps.clients.api import LegacyAuthentication
from apps.clients.contracts import ACCOUNTS_READ, REQUESTS_READ, Principal
from apps.intake.legacy import wire
from apps.intake.legacy.errors import LegacyBadRequest, LegacyNotFound, legacy_exception_handler
from apps.intake.legacy.serializers import LegacyAccountRequestInputSerializer
from apps.intake.legacy.translate import (
    FIELDS,
    keys_reported,
    overall_status,
    run_status,
    status_document,
    task_status,
    to_v1,
)
from apps.intake.selectors import request_get
from apps.intake.services import request_submit
from apps.kernel import catalog
from apps.kernel.rest import JSONParser
from apps.workflow import api as workflow

REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class AlwaysJSON(BaseContentNegotiation):
    """Tailor answered JSON to everyone and read JSON from everyone."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class LegacyErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Tailor's error shape: its code as a string, and its fixed message. API Gateway's own
    refusals (403 unsigned or badly signed) are ``{"message"}`` alone."""

    code = serializers.CharField(required=False)
    message = serializers.CharField()


class LegacyAcceptedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    message = serializers.CharField()
    requestId = serializers.CharField()


class LegacyRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    accountRequest = serializers.DictField(
        help_text="Tailor's camelCase fields: " + ", ".join(FIELDS) + ". Others are ignored."
    )


class LegacyStatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    accountName = serializers.CharField()
    accountId = serializers.CharField()
    taskStatus = serializers.DictField(child=serializers.CharField())


class LegacyAPIView(APIView):
    openapi_error_serializer = LegacyErrorSerializer
    openapi_unauthenticated_status = "403"
    authentication_classes = [LegacyAuthentication]
    parser_classes = [JSONParser]
    renderer_classes = [wire.LegacyRenderer]
    content_negotiation_class = AlwaysJSON

    def get_exception_handler(self) -> Any:
        return legacy_exception_handler

    @property
    def principal(self) -> Principal:
        user: Principal = self.request.user  # type: ignore[assignment]
        return user


def submit_account_request(view: LegacyAPIView, request: Request) -> Response:
    body = to_v1(request.data)
    serializer = LegacyAccountRequestInputSerializer(data=body, context={"access": view.principal.access})
    serializer.is_valid(raise_exception=True)
    submitted = request_submit(principal=view.principal, data=dict(serializer.validated_data))
    request_id = submitted.request.id
    return Response(
        wire.accepted(request_id), status=status.HTTP_202_ACCEPTED, headers={"Location": f"/requeststatus/{request_id}"}
    )


class LegacyRequestStatusView(LegacyAPIView):
    """Tailor's ``GET /requeststatus/<requestId>`` (and ``?requestId=``): its status
    document — every task key present from the start (see ``translate``)."""

    required_scopes = (REQUESTS_READ,)

    @extend_schema(
        operation_id="legacy_request_status",
        summary="A request's status (Tailor's API)",
        tags=["legacy"],
        responses={
            200: LegacyStatusSerializer,
            400: OpenApiResponse(LegacyErrorSerializer, description="Not a request id (4000)."),
        },
    )
    def get(self, request: Request, request_id: str) -> Response:
        return Response(self.document(request_id))

    def document(self, request_id: str) -> dict[str, Any]:
        if not REQUEST_ID.match(request_id):
            raise LegacyBadRequest({"requestId": ["Not a request id."]})
        summary = request_get(request_id=request_id, viewer=self.principal)
        if summary is not None:
            run = workflow.run_for_request(request_id=summary.id)
            state = overall_status(summary.status)
            return status_document(
                status=state,
                account_name=str((summary.body.get("tags") or {}).get("project_name", "")),
                account_id=_aws_account_id(summary.id),
                tasks=task_status(status=state, steps=run.steps if run else ()),
            )
        return self.command_document(request_id)

    def command_document(self, command_id: str) -> dict[str, Any]:
        """A command a per-service ``PUT`` started, if the caller may see its account."""
        command = (
            accounts.command_get_unscoped(command_id=command_id) if self.principal.has_scopes(ACCOUNTS_READ) else None
        )
        account = accounts.account_get(identifier=command.account_id, viewer=self.principal) if command else None
        if command is None or account is None:
            raise LegacyNotFound(f"No request {command_id}.")
        run = workflow.run_for_request(request_id=command_id)
        steps = run.steps if run else ()
        state = run_status(run.status) if run else "in_progress"
        # Until its run starts, the command's own list of steps says what it reports.
        names = [step.legacy_name for step in steps] or [
            catalog.get(name).legacy_name for name in command.params.get("steps", []) if catalog.known(name)
        ]
        return status_document(
            status=state,
            account_name=account.tags.get("project_name") or account.name,
            account_id=account.aws_account_id,
            tasks=task_status(status=state, steps=steps, keys=keys_reported(names)),
        )


def _aws_account_id(request_id: str) -> str | None:
    account = accounts.account_of_request(request_id=request_id)
    return account.aws_account_id if account and account.aws_account_id else None


class LegacyRequestStatusQueryView(LegacyRequestStatusView):
    """Tailor's documented spelling: ``GET /requeststatus?requestId=<id>``."""

    @extend_schema(
        operation_id="legacy_request_status_query",
        summary="A request's status, by query (Tailor's API)",
        tags=["legacy"],
        parameters=[OpenApiParameter("requestId", str, required=True)],
        responses={200: LegacyStatusSerializer},
    )
    def get(self, request: Request) -> Response:  # type: ignore[override]
        request_id = request.query_params.get("requestId", "")
        if not request_id:
            raise LegacyBadRequest({"requestId": ["This query parameter is required."]})
        return Response(self.document(request_id))
