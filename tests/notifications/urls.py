"""The v1 API as project/urls.py builds it, with the webhook routes included (for tests
that run before project/urls.py includes them)."""

from django.urls import include, path

v1 = ([path("", include("apps.intake.rest.urls")), path("", include("apps.notifications.rest.urls"))], "v1")

urlpatterns = [path("v1/", include(v1))]
