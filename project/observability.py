"""``GET /metrics``: every metric in the Prometheus text format, for a scraper whose token
has ``metrics:read`` and every payer (series are labelled with payer names)."""

import json
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.contracts import METRICS_READ
from apps.kernel import metrics


class PrometheusTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()  # an error body, when the caller asked for text


class TextOnly(BaseContentNegotiation):
    """Always the text format, whatever ``Accept`` says (Prometheus asks for several)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class MetricsView(APIView):
    required_scopes = (METRICS_READ,)
    requires_all_payers = True
    renderer_classes = (PrometheusTextRenderer,)
    content_negotiation_class = TextOnly

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response) and response.status_code >= 400:
            response.content_type = "application/json"  # errors are the API's JSON error body
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="metrics",
        summary="Metrics in the Prometheus text format",
        responses={200: OpenApiResponse(response=str, description="The Prometheus text exposition format 0.0.4.")},
    )
    def get(self, request: Request) -> Response:
        body, content_type = metrics.prometheus_text()
        return Response(body, content_type=content_type)
