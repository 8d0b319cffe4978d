"""Liveness answers without touching anything; readiness checks the database and broker,
and says which workers answer and which queues they consume.

The workers don't decide readiness: a web process whose database and broker answer can
take requests even while a queue has no worker (its messages wait) — that is for an
operator, not for a load balancer that would take the API down too.
"""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readiness(request: HttpRequest) -> JsonResponse:
    from project.celery import app
    from tasks.fleet import workers_report

    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # report, don't crash: this is what the endpoint is for
        checks["database"] = f"error: {type(error).__name__}"
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as error:
        checks["broker"] = f"error: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": checks}
    if checks["broker"] == "ok":
        try:
            body["workers"] = workers_report(timeout=settings.READYZ_WORKERS_TIMEOUT)
        except Exception as error:
            body["workers"] = {"status": f"error: {type(error).__name__}"}
    else:
        body["workers"] = {"status": "unknown", "detail": "the broker does not answer"}
    return JsonResponse(body, status=200 if ready else 503)
