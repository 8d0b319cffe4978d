"""The OpenAPI schema's shared parts, so a view documents only what is its own.

Every view gets, without annotating anything:

- the error responses the project's one exception handler (``apps.kernel.rest``) answers:
  401 when the view authenticates, 403 when it declares ``required_scopes``, 429 when it
  is throttled, 400 when it takes a body or query parameters, 415 when it takes a JSON
  body and refuses others, 404 when its path has parameters — all as the ``Error``
  component (``{code, message, extra}``);
- a line in its description naming the scopes its token needs (read from
  ``required_scopes``, per method or one tuple for all);
- the bearer token security scheme (an extension of the clients' authentication class,
  named by dotted path so the kernel imports no context).

A view whose errors have another shape (the legacy facade) names its own serializer in
``openapi_error_serializer``.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions, serializers
from rest_framework.negotiation import DefaultContentNegotiation

ERROR_DESCRIPTIONS = {
    "400": "The request is invalid (`validation_error`, `parse_error` or a domain error).",
    "401": "No, an invalid or an expired bearer token (`not_authenticated`, `authentication_failed`, `token_expired`).",
    "403": "The token lacks a scope this operation needs (`permission_denied`), or the client is not granted the "
    "payer (`payer_not_granted`) or every payer (`all_payers_required`).",
    "404": "No such resource, or one outside the client's grants (`not_found`).",
    "409": "The request conflicts with the resource's current state.",
    "413": "The body is larger than the service accepts (`payload_too_large`).",
    "415": "The body is not `application/json` (`unsupported_media_type`).",
    "429": "The client is over its rate limit (`throttled`); retry after `Retry-After` seconds.",
}


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Every error the API answers (``apps.kernel.rest.exception_handler``)."""

    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for a human.")
    extra = serializers.DictField(
        help_text="Details; `fields` maps field names to their problems for `validation_error`."
    )


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.clients.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "An API client's token (`bsk_...`)."}


class SigV4Scheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The legacy paths: Signature Version 4 as Tailor's API Gateway took it (bearer tokens too)."""

    target_class = "apps.clients.authentication.LegacyAuthentication"
    name = "sigv4"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
            "description": "AWS Signature Version 4 (service `execute-api`, any region) with a client's access key "
            'pair (`create_client --sigv4`), or `Bearer <token>`. Refusals are API Gateway\'s: 403 `{"message"}`.',
        }


def scopes_for(view: Any, method: str) -> tuple[str, ...] | None:
    """The scopes ``method`` on ``view`` needs; ``None`` if it declares none (documentation)."""
    required = getattr(view, "required_scopes", None)
    if isinstance(required, dict):
        return tuple(required.get(method.upper(), ()))
    return None if required is None else tuple(required)


class AutoSchema(SpectacularAutoSchema):
    def _authenticates(self) -> bool:
        open_to_all = any(isinstance(permission, permissions.AllowAny) for permission in self.view.get_permissions())
        return bool(self.view.get_authenticators()) and not open_to_all

    def _refuses_other_media_types(self) -> bool:
        negotiator = self.view.get_content_negotiator()
        return type(negotiator).select_parser is DefaultContentNegotiation.select_parser

    def get_description(self) -> str:  # type: ignore[override]
        description: str = super().get_description() or ""
        scopes = scopes_for(self.view, self.method)
        if scopes is None or not self._authenticates():
            return description
        note = (
            f"**Scopes:** {', '.join(f'`{scope}`' for scope in scopes)}."
            if scopes
            else "**Scopes:** none; any client's token."
        )
        if getattr(self.view, "requires_all_payers", False):
            note += " **Payers:** every payer (an operator's client: `--all-payers`)."
        return f"{description}\n\n{note}".strip()

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        # Machine-readable authorization, for clients and for the tests that prove it.
        if self._authenticates():
            operation["x-required-scopes"] = list(scopes_for(self.view, self.method) or ())
            operation["x-requires-all-payers"] = bool(getattr(self.view, "requires_all_payers", False))
        codes: list[str] = []
        parameters = operation.get("parameters", [])
        if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
            codes.append("400")
        if self._authenticates():
            # The legacy facade refuses the unauthenticated with 403, as API Gateway did.
            codes.append(getattr(self.view, "openapi_unauthenticated_status", "401"))
            if scopes_for(self.view, self.method):
                codes.append("403")
        if any(p.get("in") == "path" for p in parameters):
            codes.append("404")
        if "requestBody" in operation:
            codes.append("413")
        if "requestBody" in operation and self._refuses_other_media_types():
            codes.append("415")
        if self._authenticates() and self.view.get_throttles():
            codes.append("429")
        if codes:
            error = getattr(self.view, "openapi_error_serializer", ErrorSerializer)
            ref = self.resolve_serializer(error, "response").ref
            responses = operation["responses"]
            for code in codes:
                responses.setdefault(
                    code,
                    {"description": ERROR_DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}},
                )
            operation["responses"] = dict(sorted(responses.items()))
        return operation
