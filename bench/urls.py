import json
import os

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from apps.audit.middleware import AuditMiddleware
from apps.clients.throttling import ClientRateThrottle
from apps.kernel import ids, outbox
from project.urls import urlpatterns as project_urlpatterns

# Created by bench/intake.py, never by a migration: it exists only in the bench's database.
DURABLE_TABLE = "bench_durable_insert"


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    """The floor: Django parses nothing and writes nothing, answers JSON."""
    return JsonResponse({"id": "00000000-0000-4000-8000-000000000000", "status": "accepted"}, status=202)


@csrf_exempt
def durable(request: HttpRequest) -> JsonResponse:
    """The cost of a durable accept: parse the same JSON body and insert it into one table,
    committed in a transaction, nothing else."""
    body = json.loads(request.body)
    row_id = ids.new_id()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {DURABLE_TABLE} (id, body) VALUES (%s, %s)", [row_id, json.dumps(body)])  # noqa: S608
    return JsonResponse({"id": row_id, "status": "accepted"}, status=202)


# What `bench/intake.py --breakdown` leaves out of the intake path to measure what each piece
# costs (BENCH_SKIP, comma-separated). Patched here — the URLconf is loaded once the apps
# are — and never in a server that is not the benchmark's.
SKIPPABLE = ("audit", "relay", "throttle")


def _skip(pieces: set[str]) -> None:
    unknown = pieces - set(SKIPPABLE)
    if unknown:
        raise ValueError(f"BENCH_SKIP: unknown pieces {sorted(unknown)}; known: {', '.join(SKIPPABLE)}")
    if "audit" in pieces:  # no audit entry written
        AuditMiddleware._record = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    if "relay" in pieces:  # the outbox row stays unpublished (the sweeper's, later)
        outbox._relay_after_commit = lambda stored: None
    if "throttle" in pieces:  # no rate-limit count in Redis
        ClientRateThrottle.allow_request = lambda self, request, view: True  # type: ignore[method-assign]


_skip({piece for piece in os.environ.get("BENCH_SKIP", "").split(",") if piece})

urlpatterns = [path("bench/bare", bare), path("bench/durable", durable), *project_urlpatterns]
