"""Every failure on the legacy paths, answered as Tailor (or API Gateway in front of it)
answered it; see ``wire``. Nothing escapes as a stack trace or as HTML."""

import json
from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.clients.api import MISSING_TOKEN, GatewayRefusal
from apps.intake.legacy import wire
from apps.intake.legacy.translate import legacy_errors
from apps.intake.services import DuplicateRequest
from apps.kernel.errors import ApplicationError

log = structlog.get_logger(__name__)


class LegacyNotFound(exceptions.NotFound):
    """A 404 with the template of its operation (``GET /accounts`` has its own)."""

    def __init__(self, detail: str, *, body: wire.Raw = wire.TEMPLATES[wire.NOT_FOUND]) -> None:
        super().__init__(detail)
        self.body = body


class LegacyBadRequest(exceptions.ValidationError):
    """A 4000 about something other than a request body's fields (a header, a query)."""


def _header(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))[:4000]


def tailor(
    code: str, detail: Any = None, *, body: wire.Raw | None = None, headers: dict[str, str] | None = None
) -> Response:
    response = Response(body or wire.TEMPLATES[code], status=wire.STATUS_OF_CODE[code], headers=headers)
    if detail:
        response["X-Bespoke-Errors"] = _header(detail)
    return response


def gateway(status_code: int, kind: str, message: str, *, key: str = "message") -> Response:
    return Response(wire.gateway_body(message, key=key), status=status_code, headers={"x-amzn-ErrorType": kind})


def legacy_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):
        return gateway(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", "Request Too Long")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, GatewayRefusal):
        return gateway(status.HTTP_403_FORBIDDEN, exc.kind, exc.message, key=exc.key)
    if isinstance(exc, exceptions.NotAuthenticated):
        return gateway(status.HTTP_403_FORBIDDEN, *MISSING_TOKEN)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return gateway(status.HTTP_403_FORBIDDEN, "UnrecognizedClientException", str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        response = gateway(status.HTTP_429_TOO_MANY_REQUESTS, "TooManyRequestsException", "Too Many Requests")
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response["Retry-After"] = str(int(wait))
        return response
    if isinstance(exc, DuplicateRequest):
        existing = exc.extra.get("existing_request_id")
        headers = {"Location": f"/requeststatus/{existing}"} if existing else {}
        return tailor(wire.DUPLICATE, exc.message, headers=headers)
    if isinstance(exc, exceptions.ValidationError):
        return tailor(wire.BAD_REQUEST, legacy_errors(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return tailor(wire.BAD_REQUEST, {"accountRequest": [str(exc.detail)]})
    if isinstance(exc, LegacyNotFound):
        return tailor(wire.NOT_FOUND, str(exc.detail), body=exc.body)
    if isinstance(exc, exceptions.MethodNotAllowed | exceptions.NotFound):
        return tailor(wire.NOT_FOUND, str(exc.detail))
    if isinstance(exc, exceptions.PermissionDenied):
        return tailor(wire.FORBIDDEN, str(exc.detail))
    if isinstance(exc, ApplicationError):
        return _application_error(exc)
    if isinstance(exc, exceptions.APIException) and exc.status_code < 500:
        return tailor(wire.BAD_REQUEST, str(exc.detail))
    log.error("legacy_api.unhandled_exception", exc_info=exc)
    return tailor(wire.INTERNAL_ERROR)


def _application_error(exc: ApplicationError) -> Response:
    detail: Any = exc.message
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        fields = exc.extra.get("fields")
        detail = legacy_errors(fields) if fields else {"accountRequest": [exc.message]}
        return tailor(wire.BAD_REQUEST, detail)
    code = {403: wire.FORBIDDEN, 404: wire.NOT_FOUND, 409: wire.DUPLICATE}.get(exc.status_code)
    if code is None:
        log.error("legacy_api.application_error", code=exc.code, status=exc.status_code, message=exc.message)
        return tailor(wire.INTERNAL_ERROR, exc.code)
    return tailor(code, f"{exc.code}: {exc.message}")


def legacy_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any path Tailor did not have: its JSON 404."""
    return HttpResponse(
        bytes(wire.TEMPLATES[wire.NOT_FOUND]), status=status.HTTP_404_NOT_FOUND, content_type="application/json"
    )
