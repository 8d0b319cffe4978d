from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from project.urls import urlpatterns as project_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    """The floor: Django parses nothing and writes nothing, answers JSON."""
    return JsonResponse({"id": "00000000-0000-4000-8000-000000000000", "status": "accepted"}, status=202)


urlpatterns = [path("bench/bare", bare), *project_urlpatterns]
