"""Settings for the test suite.

The database is SQLite unless ``DATABASE_URL`` names another (CI points it at the
machine's PostgreSQL); the broker is the in-process one unless a test starts its own.
"""

import os
import tempfile
from urllib.parse import urlparse


def redis_database_for_worker(url: str, worker: int) -> str:
    """``url`` with its database number lowered by ``worker`` (modulo Redis's 16)."""
    parsed = urlparse(url)
    number = int(parsed.path.strip("/") or 0)
    return parsed._replace(path=f"/{(number - worker) % 16}").geturl()


os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-not-a-secret")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
# Per test process, so two test runs on one machine never share a SQLite file.
os.environ.setdefault("BESPOKE_VAR_DIR", os.path.join(tempfile.gettempdir(), f"bespoke-test-{os.getpid()}"))

# ``make test`` runs the suite in several processes (pytest-xdist): each has its own test
# database (pytest-django) and, here, its own Redis database — REDIS_URL's number minus the
# worker's — so one process's flush or cached entries never reach another's tests.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = redis_database_for_worker(os.environ["REDIS_URL"], int(_xdist_worker[2:]))

from project.settings.base import *  # noqa: E402 - after the environment above

VAR_DIR.mkdir(parents=True, exist_ok=True)
ALLOWED_HOSTS = ["*"]
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.01}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Never reach a real AWS endpoint from a test: fixtures set the emulator's URL.
AWS_ENDPOINT_URL = "http://127.0.0.1:9"
AWS_MAX_ATTEMPTS = 2
TASK_RETRY_BASE_SECONDS = 0.05
TASK_RETRY_MAX_SECONDS = 0.5
STEP_LEASE_RECHECK_SECONDS = 0.2
LOG_FORMAT = "console"
LOGGING["formatters"]["structured"]["output"] = LOG_FORMAT  # type: ignore[index]
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: worker threads in end-to-end tests need their own connections.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Webhooks: the tests' receivers listen on http://127.0.0.1 (tests/support/webhooks.py), so
# that one address is allowed; tests of the address guard clear this list.
WEBHOOK_REQUIRE_HTTPS = False
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
WEBHOOK_SECRET_KEYS = [derived_fernet_key("test-suite", purpose="webhook-secrets")]
# Integration endpoints: the tests' receivers on http://127.0.0.1 (tests set the endpoints).
INTEGRATION_REQUIRE_HTTPS = False
INTEGRATION_ALLOWED_NETWORKS = ["127.0.0.1/32"]
INTEGRATION_SIGNING_SECRET = "test-suite-integration-secret"  # noqa: S105 - the tests' own
