import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.kernel import ids, metrics
from apps.kernel.logging import bound

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (or makes one), binds it to every log line
    and outbox message of the request, and returns it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _SAFE_ID.match(supplied) else ids.new_id()
        with bound(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route pattern (never the raw path:
    ids would make a series per request) and status. A view that names a
    ``request_metric`` has its POSTs counted there too, as accepted (2xx but a dry run's
    200) or refused with the error body's code."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None and match.route else "unmatched"
        metrics.inc("bespoke_http_requests", method=request.method, route=route, status=response.status_code)
        metrics.observe(
            "bespoke_http_request_duration_seconds",
            time.perf_counter() - started,
            method=request.method,
            route=route,
        )
        view = getattr(getattr(match, "func", None), "view_class", None)
        counted = getattr(view, "request_metric", None)
        if counted and request.method == "POST" and response.status_code != 200:
            if response.status_code < 400:
                metrics.inc(counted, outcome="accepted", code="none")
            else:
                data = getattr(response, "data", None)
                code = data.get("code") if isinstance(data, dict) else None
                metrics.inc(counted, outcome="refused", code=code or f"http_{response.status_code}")
        return response
