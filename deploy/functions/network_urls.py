"""The network function serves no API; this URLconf only makes ``/healthz`` answer if a
Function URL is ever put in front of it (``zappa invoke`` and SQS need none)."""

from django.urls import path

from project import health

urlpatterns = [path("healthz", health.liveness, name="healthz")]
