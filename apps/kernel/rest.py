"""One exception handler for the whole API: every error is
``{"code", "message", "extra"}`` with the right status, never a bare 500 page."""

from typing import Any

import structlog
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.kernel.errors import ApplicationError

log = structlog.get_logger(__name__)

# The largest ``offset`` a list takes: past it a database refuses the number (a 500), and
# no list is that long. Every list's query serializer bounds its offset with it.
MAX_OFFSET = 2**31 - 1

_CODES = {
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication credentials were not provided."),
    exceptions.AuthenticationFailed: ("authentication_failed", None),
    exceptions.PermissionDenied: ("permission_denied", None),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", None),
    exceptions.ParseError: ("parse_error", None),
    exceptions.Throttled: ("throttled", None),
}


def error_body(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra or {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.extra), status=exc.status_code)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(
            error_body("validation_error", "The request is invalid; see extra.fields.", {"fields": detail}),
            status=status.HTTP_400_BAD_REQUEST,
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        log.error("api.unhandled_exception", exc_info=exc)
        return Response(
            error_body("internal_error", "An internal error occurred; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code, message = "error", None
    for exception_type, (known_code, known_message) in _CODES.items():
        if isinstance(exc, exception_type):
            code, message = known_code, known_message
            break
    response.data = error_body(code, message or str(getattr(exc, "detail", exc)))
    return response
