import json

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from apps.kernel import ids
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


urlpatterns = [path("bench/bare", bare), path("bench/durable", durable), *project_urlpatterns]
