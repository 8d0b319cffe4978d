"""The embedded mode (``make run``): SQLite, an in-process broker with worker threads,
and AWS emulated by moto's server on a loopback port. Nothing to install but Python."""

import os

from project.settings.env import env_bool, env_str

# A development-only key: this mode never serves anything but loopback.
os.environ.setdefault("DJANGO_SECRET_KEY", "embedded-mode-not-a-secret")
# moto accepts any credentials; these keep boto3 from looking for real ones.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from project.settings.base import *

VAR_DIR.mkdir(parents=True, exist_ok=True)
# On by default here (error pages with tracebacks on a developer's machine); DJANGO_DEBUG=false
# turns it off, and with it Django's log of every query each connection makes.
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.01}
OUTBOX_SWEEP_AFTER_SECONDS = 5
LOG_FORMAT = env_str("LOG_FORMAT", "console")
LOGGING["formatters"]["structured"]["output"] = LOG_FORMAT  # type: ignore[index]
# Webhooks: plain http is fine on a developer's machine; receivers must still be public
# unless WEBHOOK_ALLOWED_NETWORKS says otherwise (e.g. 127.0.0.1/32 for a local receiver).
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", False)
WEBHOOK_SECRET_KEYS = WEBHOOK_SECRET_KEYS or [derived_fernet_key(SECRET_KEY, purpose="webhook-secrets")]
# Integration steps: `make run` starts a local stand-in receiver (tasks/integrations_receiver.py)
# and points INTEGRATION_ENDPOINTS at it, unless they are set.
INTEGRATION_REQUIRE_HTTPS = env_bool("INTEGRATION_REQUIRE_HTTPS", False)
INTEGRATION_ALLOWED_NETWORKS = INTEGRATION_ALLOWED_NETWORKS or ["127.0.0.1/32"]
INTEGRATION_SIGNING_SECRET = INTEGRATION_SIGNING_SECRET or derived_fernet_key(SECRET_KEY, purpose="integrations")
