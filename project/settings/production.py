"""The services mode: PostgreSQL, Redis, ``celery worker``/``celery beat`` and gunicorn.

Everything comes from the environment; ``DATABASE_URL`` and ``REDIS_URL`` (or
``CELERY_BROKER_URL``) and ``DJANGO_SECRET_KEY`` are required.
"""

from django.core.exceptions import ImproperlyConfigured

from project.settings.base import *
from project.settings.env import env_bool, env_int, env_list, env_optional, env_str

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", required=True))}
CELERY_BROKER_URL = env_optional("CELERY_BROKER_URL") or env_str("REDIS_URL", required=True)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
    # A message a worker took and never acknowledged (the worker killed, its machine gone)
    # goes back to its queue this long after it was taken; the workers look for such
    # messages every 10 s. Longer than a handler ever runs: one still running when it comes
    # back is delivered twice, and its second delivery waits for or drops the first.
    "visibility_timeout": env_int("BROKER_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_throttle": 1,
}
OUTBOX_RELAY_IN_BACKGROUND = env_bool("OUTBOX_RELAY_IN_BACKGROUND", True)

DEBUG = False
if AWS_FAULTS and not AWS_ENDPOINT_URL:
    raise ImproperlyConfigured("AWS_FAULTS injects failures for tests and demos: never against the real AWS.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
