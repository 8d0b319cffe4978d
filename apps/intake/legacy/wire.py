"""Tailor's answers, byte for byte where Tailor defines them.

Its errors came from the API Gateway response templates of its ``swagger.yaml``: fixed
bytes such as ``{"code" : "4000","message" : "Bad request"}`` (note the spacing), whatever
went wrong. Its successes were its Lambda functions' return values, which the Python
runtime serialises with ``json.dumps`` defaults (``{"code": "2020", "message": …}``). Its
refusals of unsigned or badly signed calls were API Gateway's own: 403 with
``{"message":"…"}`` and an ``x-amzn-ErrorType`` header.

Bespoke says what a 4000 was about in a header, ``X-Bespoke-Errors`` (JSON by Tailor's
field names), never in the body: an old client parses the body it always got.
"""

import json
from typing import Any

from rest_framework.renderers import BaseRenderer

# Tailor's codes are strings.
ACCEPTED = "2020"
BAD_REQUEST = "4000"
FORBIDDEN = "4030"
NOT_FOUND = "4040"
DUPLICATE = "4090"
INTERNAL_ERROR = "5000"


class Raw(bytes):
    """An answer's exact bytes: the renderer passes them through untouched."""


def _template(code: str, message: str) -> Raw:
    return Raw(f'{{"code" : "{code}","message" : "{message}"}}'.encode())


# The response templates of Tailor's swagger.yaml, by code. GET /accounts says "Account
# not found" where every other operation says "Not found".
TEMPLATES: dict[str, Raw] = {
    BAD_REQUEST: _template(BAD_REQUEST, "Bad request"),
    FORBIDDEN: _template(FORBIDDEN, "Forbidden"),
    NOT_FOUND: _template(NOT_FOUND, "Not found"),
    DUPLICATE: _template(DUPLICATE, "Duplicate request"),
    INTERNAL_ERROR: _template(INTERNAL_ERROR, "Internal error message. Contact your internal AWS Support team."),
}
ACCOUNT_NOT_FOUND = _template(NOT_FOUND, "Account not found")
STATUS_OF_CODE = {BAD_REQUEST: 400, FORBIDDEN: 403, NOT_FOUND: 404, DUPLICATE: 409, INTERNAL_ERROR: 500}


def gateway_body(message: str, *, key: str = "message") -> Raw:
    """API Gateway's own error body (compact JSON, one key)."""
    return Raw(json.dumps({key: message}, separators=(",", ":")).encode())


def accepted(request_id: str) -> dict[str, str]:
    """What Tailor's functions returned when they accepted something (202)."""
    return {"code": ACCEPTED, "message": "Request Accepted", "requestId": request_id}


class LegacyRenderer(BaseRenderer):
    """``Raw`` as it is; anything else as Tailor's Lambda runtime serialised it."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, Raw):
            return bytes(data)
        if data is None:
            return b""
        return json.dumps(data).encode("utf-8")
