"""Tailor's API on top of v1: ``POST /accounts`` (also ``/account``) and
``GET /requeststatus/<requestId>``, so an old client works unchanged.

The body is translated (``translate.to_v1``) and goes through exactly what
``POST /v1/account-requests`` does — ``AccountRequestInputSerializer`` and
``request_submit`` — so there is one set of rules. Answers are in Tailor's shape,
``{"code", "message", ...}``, with Tailor's codes:

====  =====  ======================================================================
HTTP  code   when
====  =====  ======================================================================
202   2020   accepted: ``requestId``; ``Location`` is the v1 status URL
200   2000   the status lookup
400   4000   a field missing or invalid: ``errors`` by camelCase field name
401   4010   no or an invalid bearer token. Tailor had no tokens; Bespoke keeps v1's
             401 (and its ``WWW-Authenticate`` challenge) in Tailor's shape
403   4030   the token lacks the scope (``requests:write`` to post,
             ``requests:read`` for the status)
404   4040   no such request (or another client's)
409   4090   duplicate: ``requestId`` names the live request for the same account email
500   5000   anything unexpected; logged, never shown
====  =====  ======================================================================

Other statuses (405, 429, …) answer ``status * 10`` in the same shape; a 429 keeps its
``Retry-After``. The body is read as JSON whatever the ``Content-Type`` says and the
answer is JSON whatever ``Accept`` asks, because old clients were not careful about either.
"""

from collections.abc import Iterable
from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import api as accounts
from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE, Principal
from apps.intake.legacy.translate import (
    ACCOUNT_CREATION_TASKS,
    FAILED_TASK,
    FIELDS,
    LINKED_ACCOUNT_FAILED,
    legacy_errors,
    legacy_status,
    legacy_tasks,
    to_v1,
)
from apps.intake.rest.serializers import AccountRequestInputSerializer
from apps.intake.selectors import request_get
from apps.intake.services import DuplicateRequest, request_submit
from apps.kernel.errors import ApplicationError
from apps.kernel.errors import NotFound as ApplicationNotFound
from apps.kernel.rest import JSONParser, PayloadTooLarge
from apps.workflow import api as workflow

log = structlog.get_logger(__name__)

ACCEPTED = (2020, "Request Accepted")
OK = (2000, "OK")
BAD_REQUEST = (4000, "Bad request")
UNAUTHORIZED = (4010, "Unauthorized")
FORBIDDEN = (4030, "Forbidden")
NOT_FOUND = (4040, "Not found")
DUPLICATE = (4090, "Duplicate request")
INTERNAL_ERROR = (5000, "Internal error")


def legacy_body(code: tuple[int, str], **fields: Any) -> dict[str, Any]:
    return {"code": code[0], "message": code[1], **fields}


def legacy_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error in Tailor's shape; never ``None``, so nothing escapes as a stack trace."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DuplicateRequest):
        return Response(
            legacy_body(DUPLICATE, requestId=exc.extra.get("existing_request_id"), detail=exc.message),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, exceptions.ValidationError):
        return Response(legacy_body(BAD_REQUEST, errors=legacy_errors(exc.detail)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response(
            legacy_body(BAD_REQUEST, errors={"accountRequest": [str(exc.detail)]}), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, ApplicationNotFound):
        return Response(legacy_body(NOT_FOUND, detail=exc.message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, ApplicationError):
        if exc.status_code == status.HTTP_400_BAD_REQUEST:
            fields = exc.extra.get("fields")
            errors = legacy_errors(fields) if fields else {"accountRequest": [exc.message]}
            return Response(legacy_body(BAD_REQUEST, errors=errors), status=exc.status_code)
        return Response(legacy_body((exc.status_code * 10, exc.message)), status=exc.status_code)
    if isinstance(exc, exceptions.APIException):
        return _api_exception(exc)

    log.error("legacy_api.unhandled_exception", exc_info=exc)
    return Response(legacy_body(INTERNAL_ERROR), status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def _api_exception(exc: exceptions.APIException) -> Response:
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):  # set by APIView.handle_exception
        headers["WWW-Authenticate"] = auth_header
    if (wait := getattr(exc, "wait", None)) is not None:
        headers["Retry-After"] = str(int(wait))
    code: tuple[int, str]
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        code = UNAUTHORIZED
    elif exc.status_code == status.HTTP_403_FORBIDDEN:
        code = FORBIDDEN
    elif exc.status_code == status.HTTP_404_NOT_FOUND:
        code = NOT_FOUND
    elif exc.status_code == status.HTTP_400_BAD_REQUEST:
        code = BAD_REQUEST
    else:
        code = (exc.status_code * 10, str(exc.default_detail))
    return Response(legacy_body(code, detail=str(exc.detail)), status=exc.status_code, headers=headers)


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
    """Tailor's error shape: its numeric code (HTTP status * 10), and what went wrong."""

    code = serializers.IntegerField()
    message = serializers.CharField()
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False, help_text="By camelCase field."
    )
    requestId = serializers.CharField(required=False, allow_null=True, help_text="The live duplicate (4090).")


class LegacyRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    accountRequest = serializers.DictField(help_text="Tailor's camelCase fields: " + ", ".join(FIELDS) + ".")


class LegacyAcceptedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.IntegerField()
    message = serializers.CharField()
    requestId = serializers.CharField()


class LegacyStatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.IntegerField()
    message = serializers.CharField()
    requestId = serializers.CharField()
    status = serializers.CharField()
    accountId = serializers.CharField(allow_null=True)
    accountEmail = serializers.CharField()
    tasks = serializers.DictField(child=serializers.CharField())
    failure = serializers.CharField(allow_null=True)
    failureCode = serializers.IntegerField(required=False)


class LegacyAPIView(APIView):
    openapi_error_serializer = LegacyErrorSerializer
    parser_classes = [JSONParser]
    content_negotiation_class = AlwaysJSON

    def get_exception_handler(self) -> Any:
        return legacy_exception_handler


class LegacyAccountRequestView(LegacyAPIView):
    """Tailor's ``POST /accounts``: ``{"accountRequest": {...}}`` → 202 ``{"code": 2020, "requestId"}``."""

    required_scopes = (REQUESTS_WRITE,)

    @extend_schema(
        operation_id="legacy_accounts_create",
        summary="Request an account (Tailor's API)",
        tags=["legacy"],
        request=LegacyRequestSerializer,
        responses={
            202: LegacyAcceptedSerializer,
            409: OpenApiResponse(LegacyErrorSerializer, description="A live request for the same account (4090)."),
        },
    )
    def post(self, request: Request) -> Response:
        principal: Principal = request.user  # type: ignore[assignment]
        serializer = AccountRequestInputSerializer(data=to_v1(request.data), context={"access": principal.access})
        serializer.is_valid(raise_exception=True)
        submitted = request_submit(principal=principal, data=dict(serializer.validated_data))
        request_id = submitted.request.id
        status_url = request.build_absolute_uri(reverse("v1:account-request-detail", kwargs={"request_id": request_id}))
        return Response(
            legacy_body(ACCEPTED, requestId=request_id),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": status_url},
        )


class LegacyRequestStatusView(LegacyAPIView):
    """Tailor's ``GET /requeststatus/<requestId>``: the overall status and each started task
    by its legacy name (see ``translate`` for how v1's states map)."""

    required_scopes = (REQUESTS_READ,)

    @extend_schema(
        operation_id="legacy_request_status",
        summary="An account request's status (Tailor's API)",
        tags=["legacy"],
        responses=LegacyStatusSerializer,
    )
    def get(self, request: Request, request_id: str) -> Response:
        summary = request_get(request_id=request_id, viewer=request.user)  # type: ignore[arg-type]
        if summary is None:
            raise ApplicationNotFound(f"No account request {request_id}.")
        run = workflow.run_for_request(request_id=summary.id)
        account = accounts.account_for_request(request_id=summary.id)
        tasks = legacy_tasks(request_status=summary.status, steps=run.steps if run else ())
        body = legacy_body(
            OK,
            requestId=summary.id,
            status=legacy_status(summary.status),
            accountId=account.id if account else None,
            accountEmail=summary.account_email,
            tasks=tasks,
            failure=summary.failure or None,
        )
        if any(tasks.get(name) == FAILED_TASK for name in ACCOUNT_CREATION_TASKS):
            body["failureCode"] = LINKED_ACCOUNT_FAILED
        return Response(body)
