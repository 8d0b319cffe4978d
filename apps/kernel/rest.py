"""The API's shared edges: one exception handler (every error is ``{"code", "message",
"extra"}`` with the right status, never a bare 500 page), the JSON parser, the strict input
serializer, the limit/offset query and the page every list answers, and one ISO 8601
rendering of times."""

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.response import Response

from apps.kernel.errors import ApplicationError

if TYPE_CHECKING:
    # Not at run time: importing DRF's request module reads the API settings, which name
    # this module's parser (a cycle).
    from rest_framework.request import Request

log = structlog.get_logger(__name__)

# The largest ``offset`` a list takes: past it a database refuses the number (a 500), and
# no list is that long. Every list's query serializer bounds its offset with it.
MAX_OFFSET = 2**31 - 1
# No request body of ours nests deeper than a few levels; this bounds the parser's
# recursion (Python's JSON decoder otherwise recurses until the interpreter gives up).
MAX_JSON_DEPTH = 32


def iso(value: datetime | None) -> str | None:
    """A time as the API writes it (ISO 8601 with its offset), ``None`` for no time."""
    return value.isoformat() if value else None


class QuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A query string's parameters. An empty value (``?status=``) is refused like any other
    invalid one, as the schema's ``minLength`` says, instead of being read as absent (DRF's
    reading of HTML forms)."""

    def to_internal_value(self, data: Any) -> Any:
        blank = {
            name: ["This field may not be blank."]
            for name, field in self.fields.items()
            if hasattr(data, "get") and data.get(name) == "" and not getattr(field, "allow_blank", False)
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class PageQuerySerializer(QuerySerializer):
    """``limit``/``offset`` of a list; a list's own query serializer adds its filters
    (and may redeclare ``limit`` with another cap)."""

    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


def page_query(serializer_class: type[serializers.Serializer], request: "Request") -> dict[str, Any]:  # type: ignore[type-arg]
    """The validated query of a list (raises ``ValidationError``: a 400)."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def page_response(
    serializer_class: type[serializers.Serializer],  # type: ignore[type-arg]
    *,
    count: int,
    results: Iterable[Any],
    context: dict[str, Any] | None = None,
) -> Response:
    """A list's answer, ``{"count", "results"}``, rendered by the serializer the schema
    documents for it (one whose ``results`` serializes each item)."""
    return Response(serializer_class({"count": count, "results": list(results)}, context=context or {}).data)


def _takes_strings_only(field: serializers.Field) -> bool:  # type: ignore[type-arg]
    if isinstance(field, serializers.CharField):
        return True
    if isinstance(field, serializers.ChoiceField):
        return all(isinstance(choice, str) for choice in field.choices)
    return False


def _not_as_documented(field: serializers.Field, value: Any) -> Any:  # type: ignore[type-arg]
    """What is of another type in a JSON value than the schema documents for ``field``
    (DRF's string fields would take ``0`` as ``"0"``): the field's errors, or None."""
    if value is None:
        return None
    if _takes_strings_only(field):
        return None if isinstance(value, str) else ["Not a valid string."]
    if isinstance(field, serializers.ListField) and isinstance(value, list) and _takes_strings_only(field.child):
        wrong = {
            index: ["Not a valid string."]
            for index, item in enumerate(value)
            if item is not None and not isinstance(item, str)
        }
        return wrong or None
    return None


def _shallow(field: serializers.Field) -> serializers.Field:  # type: ignore[type-arg]
    """A new field with ``field``'s attributes (its own dict: binding it changes only it)."""
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


class BodySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A field documented as a string (or a list of strings) takes only JSON strings: ``0``
    is refused, not read as ``"0"``.

    Its fields are made cheaply: DRF deep-copies a serializer's declared fields for every
    instance, calling each field's ``__init__`` again (its validators, its messages) — a
    quarter of an account request's validation. The declared fields are the same for
    every instance of a class, so they are deep-copied once per class and each instance
    gets shallow copies, which bind to it alone. A field with a child (a list's items) is
    still deep-copied: its child is bound to it."""

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        cls = type(self)
        prototypes: dict[str, serializers.Field] | None = cls.__dict__.get("_prototype_fields")  # type: ignore[type-arg]
        if prototypes is None:
            prototypes = copy.deepcopy(self._declared_fields)
            cls._prototype_fields = prototypes  # type: ignore[attr-defined]
        return {
            name: copy.deepcopy(field) if hasattr(field, "child") else _shallow(field)
            for name, field in prototypes.items()
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            problems = {
                name: _not_as_documented(field, data[name]) for name, field in self.fields.items() if name in data
            }
            wrong = {name: problem for name, problem in problems.items() if problem}
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


class StrictSerializer(BodySerializer):
    """Refuses fields it does not declare, so a typo is an error, not silently ignored
    (the schema says ``additionalProperties: false`` for these bodies)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this service accepts."
    default_code = "payload_too_large"


def json_depth_problem(value: Any, *, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``value`` nests too deeply (None if it doesn't), without recursing."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list):
            if depth > limit:
                return f"JSON nested deeper than {limit} levels."
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` (400)
    and bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from None
        except RequestDataTooBig:
            raise PayloadTooLarge() from None
        problem = json_depth_problem(data)
        if problem:
            raise exceptions.ParseError(f"JSON parse error - {problem}")
        return data


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
# Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE when it is read (by DRF, or the
# audit middleware before it): that is the client's doing, never a 500.
_TOO_LARGE = (RequestDataTooBig,)


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

    if isinstance(exc, _TOO_LARGE):
        exc = PayloadTooLarge()
    # Imported here: DRF's views module reads the API settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

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
    if type(exc) not in _CODES and isinstance(exc, exceptions.APIException):
        # A subclass with a code of its own (token_expired, payload_too_large) keeps it.
        code = str(exc.default_code)
    response.data = error_body(code, message or str(getattr(exc, "detail", exc)))
    return response
