"""Services-mode settings plus the benchmark's baseline endpoint (never deployed)."""

from project.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]  # noqa: F405
