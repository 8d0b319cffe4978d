"""The project's routes plus the legacy facade's, for tests until project/urls.py includes it."""

from django.urls import include, path

from project.urls import urlpatterns as base

urlpatterns = [*base, path("", include("apps.intake.legacy.urls"))]
