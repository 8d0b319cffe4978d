"""Settings shared by every runtime mode.

Each mode (``local`` = embedded, ``test``, ``production`` = services, ``serverless``)
imports this module and overrides what differs. Values come from the environment via
the typed helpers in ``env.py``; no secret has a production default.
"""

from pathlib import Path

import dj_database_url

from project.settings.env import env_bool, env_float, env_int, env_list, env_optional, env_seconds_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("BESPOKE_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])

INSTALLED_APPS = [
    # First, so its admin templates (base_site, index) take precedence over the admin's own.
    "apps.console",
    "apps.console.sites.ConsoleAdminConfig",  # django.contrib.admin, with the dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.kernel",
    "apps.clients",
    "apps.accounts",
    "apps.intake",
    "apps.workflow",
    "apps.baseline",
    "apps.network",
    "apps.notifications",
    "apps.compliance",
    "apps.audit",
    "tasks",
]

MIDDLEWARE = [
    "apps.kernel.tracing.TracingMiddleware",
    "apps.kernel.middleware.RequestIdMiddleware",
    "apps.kernel.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_url(url: str) -> dict[str, object]:
    """A Django DATABASES entry from a URL, with the options each engine needs."""
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60)))
    if str(config["ENGINE"]).endswith("sqlite3"):
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = sqlite_options()
    else:
        config["CONN_HEALTH_CHECKS"] = True
    return config


def sqlite_options() -> dict[str, object]:
    # WAL lets readers run beside the writer; IMMEDIATE transactions take the write
    # lock up front so concurrent writers queue on the busy timeout instead of failing
    # with "database is locked" when a read transaction tries to upgrade.
    return {
        "timeout": env_float("SQLITE_BUSY_TIMEOUT", 30.0),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }


DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'bespoke.sqlite3'}")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Timestamps to the second wherever Django formats them (the admin above all).
FORMAT_MODULE_PATH = ["apps.console.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.clients.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.clients.permissions.HasRequiredScopes"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.kernel.rest.JSONParser"],
    "EXCEPTION_HANDLER": "apps.kernel.rest.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["apps.clients.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": env_str("API_RATE_LIMIT", "1200/min")},
    "DEFAULT_SCHEMA_CLASS": "apps.kernel.openapi.AutoSchema",
}
# The OpenAPI document at /v1/schema and its Swagger UI at /v1/docs (assets served from
# static files, never a CDN). Errors, scopes, 401/403/429 come from apps.kernel.openapi.
SPECTACULAR_SETTINGS = {
    "TITLE": "Bespoke",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Account vending: request AWS accounts, follow their provisioning, manage webhooks, "
        "tokens and dead letters. Every call takes `Authorization: Bearer <token>`; each "
        "operation lists the scopes its token needs. Every error is `{code, message, extra}`."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["project.docs.legacy_paths"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ManagedAccountStatusEnum": "apps.accounts.models.ManagedAccount.Status",
        "AccountCommandStatusEnum": "apps.accounts.models.AccountCommand.Status",
    },
}
# A request body larger than this answers 413 (an account request is about 1 KiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
# A token lives this long unless whoever issues it says less (a token can never mint one
# that outlives itself).
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90)
# Each process keeps a token's principal (scopes, payer grants) and a payer's settings and
# blueprints this long instead of reading them on every request: a change made in another
# process (a revoked token, a grant or payer changed) takes effect within it. 0: no cache.
API_TOKEN_CACHE_SECONDS = env_float("API_TOKEN_CACHE_SECONDS", 5.0)
PAYER_CACHE_SECONDS = env_float("PAYER_CACHE_SECONDS", 5.0)
# The table the database cache uses where no cache server is configured (serverless).
DATABASE_CACHE_TABLE = "bespoke_cache"


def cache_settings(*, url: str | None, shared: bool) -> dict[str, dict[str, object]]:
    """The cache rate limits are counted in: Redis at ``url``; else, where several
    processes serve the API (``shared``: every Lambda container), the database, so the
    limit holds across them; else (one process) memory."""
    if url:
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    if shared:
        return {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": DATABASE_CACHE_TABLE}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


# Shared by every process in services mode (Redis), so a client's rate limit holds across
# workers; per process in the embedded mode (one process).
CACHES = cache_settings(url=env_optional("CACHE_URL") or env_optional("REDIS_URL"), shared=False)

# --- Messaging -------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", env_str("REDIS_URL", "memory://"))
CELERY_TASK_ALWAYS_EAGER = False
# The in-process broker is polled; poll often so a hop costs milliseconds, not a second.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {"polling_interval": 0.01} if CELERY_BROKER_URL.startswith("memory://") else {"socket_connect_timeout": 3}
)
# How long an outbox message may stay unrelayed before the sweeper publishes it.
OUTBOX_SWEEP_AFTER_SECONDS = env_int("OUTBOX_SWEEP_AFTER_SECONDS", 30)
OUTBOX_SWEEP_INTERVAL_SECONDS = env_int("OUTBOX_SWEEP_INTERVAL_SECONDS", 30)
# A message that fails to publish this many times (not because the broker is away) is
# parked as a dead letter, so it stops holding up the sweeper.
OUTBOX_MAX_PUBLISH_ATTEMPTS = env_int("OUTBOX_MAX_PUBLISH_ATTEMPTS", 5)
# In a web server's processes (project/wsgi.py), relay what a transaction recorded from a
# thread of the process that the commit wakes, not in the committing thread: an API answer
# then waits for its commit, not for the broker. Workers and commands always relay in line.
# Off here; on in the services mode (never on Lambda, which freezes a process between
# invocations).
OUTBOX_RELAY_IN_BACKGROUND = env_bool("OUTBOX_RELAY_IN_BACKGROUND", False)
# A running step with no progress (dispatch, or a retry) for this long has lost its
# worker: the stuck-run sweeper dispatches it again, at most STEP_MAX_REDISPATCHES times.
# Longer than the longest back-off (TASK_RETRY_MAX_SECONDS) plus the slowest step.
STEP_DEADLINE_SECONDS = env_int("STEP_DEADLINE_SECONDS", 900)
STEP_MAX_REDISPATCHES = env_int("STEP_MAX_REDISPATCHES", 2)
# A delivery executing a step holds its lease this long (longer than any one execution of
# a step, and than the stuck-run sweeper's deadline, so a re-dispatch of a step that is
# only slow waits for it); another delivery meanwhile waits, asking again at most this often. A holder
# that died on this host is taken over at once.
STEP_LEASE_SECONDS = env_int("STEP_LEASE_SECONDS", 2 * STEP_DEADLINE_SECONDS)
STEP_LEASE_RECHECK_SECONDS = env_float("STEP_LEASE_RECHECK_SECONDS", 15.0)
STUCK_SWEEP_INTERVAL_SECONDS = env_int("STUCK_SWEEP_INTERVAL_SECONDS", 60)
# How often each payer's Organization is compared with what Bespoke knows (closed,
# moved and unknown accounts), and how often member accounts' Config rule compliance is read.
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 900)
COMPLIANCE_POLL_INTERVAL_SECONDS = env_int("COMPLIANCE_POLL_INTERVAL_SECONDS", 3600)
# Retention (tasks/retention.py): how long each growing table keeps its rows. The inbox
# must outlast any redelivery (SQS keeps a message at most 14 days). The audit log is
# never pruned.
RETENTION_PRUNE_INTERVAL_SECONDS = env_int("RETENTION_PRUNE_INTERVAL_SECONDS", 3600)
RETENTION_IDEMPOTENCY_KEYS_HOURS = env_int("RETENTION_IDEMPOTENCY_KEYS_HOURS", 24)
RETENTION_OUTBOX_DAYS = env_int("RETENTION_OUTBOX_DAYS", 15)
RETENTION_INBOX_DAYS = env_int("RETENTION_INBOX_DAYS", 15)
RETENTION_WEBHOOK_DELIVERIES_DAYS = env_int("RETENTION_WEBHOOK_DELIVERIES_DAYS", 30)
RETENTION_COMPLIANCE_SNAPSHOTS_DAYS = env_int("RETENTION_COMPLIANCE_SNAPSHOTS_DAYS", 30)
RETENTION_QUOTA_BUCKETS_DAYS = env_int("RETENTION_QUOTA_BUCKETS_DAYS", 30)
# Serverless: how often the SQS dead-letter queues are emptied into Bespoke's dead letters.
SQS_DEAD_LETTER_IMPORT_INTERVAL_SECONDS = env_int("SQS_DEAD_LETTER_IMPORT_INTERVAL_SECONDS", 300)
# Who hears about dead letters by email (comma-separated).
OPERATOR_EMAILS = env_list("OPERATOR_EMAILS", [])
# Proxies (addresses or CIDRs) whose X-Forwarded-For the audit log believes; empty: REMOTE_ADDR only.
AUDIT_TRUSTED_PROXIES = env_list("AUDIT_TRUSTED_PROXIES", [])
# Which worker consumes which queues, with how many processes (tasks/workers.py,
# docs/services.md): ``name=queue,queue[:concurrency]`` per group, separated by spaces.
WORKER_GROUPS = env_str(
    "WORKER_GROUPS",
    "control=default,workflow,intake,notifications:2 steps=accounts,baseline,compliance:2 network=network:2",
)
# How long /readyz waits for the workers' answers (it asks every worker which queues it consumes).
READYZ_WORKERS_TIMEOUT = env_float("READYZ_WORKERS_TIMEOUT", 0.5)
# Retries of a message whose handler raised a retryable error.
TASK_MAX_RETRIES = env_int("TASK_MAX_RETRIES", 8)
TASK_RETRY_BASE_SECONDS = env_float("TASK_RETRY_BASE_SECONDS", 2.0)
TASK_RETRY_MAX_SECONDS = env_float("TASK_RETRY_MAX_SECONDS", 300.0)

# --- AWS ---------------------------------------------------------------------------
# Empty means the real AWS endpoints; the embedded mode and tests point this at moto.
AWS_ENDPOINT_URL = env_optional("AWS_ENDPOINT_URL")
AWS_DEFAULT_REGION = env_str("AWS_DEFAULT_REGION", "us-east-1")
AWS_MAX_ATTEMPTS = env_int("AWS_MAX_ATTEMPTS", 5)
AWS_CONNECT_TIMEOUT = env_float("AWS_CONNECT_TIMEOUT", 5.0)
AWS_READ_TIMEOUT = env_float("AWS_READ_TIMEOUT", 30.0)
# On Lambda, a record is started only with this much of the invocation left (never less
# than one AWS attempt, AWS_CONNECT_TIMEOUT + AWS_READ_TIMEOUT; 0: exactly that).
LAMBDA_RECORD_BUDGET_SECONDS = env_float("LAMBDA_RECORD_BUDGET_SECONDS", 0.0)
# Assumed roles' credentials are reused until this long before they expire.
AWS_CREDENTIALS_REFRESH_SECONDS = env_int("AWS_CREDENTIALS_REFRESH_SECONDS", 300)
# Reuse boto3 clients and assumed credentials (apps/cloud/cache.py); off only to measure
# what that saves.
AWS_CLIENT_CACHE = env_bool("AWS_CLIENT_CACHE", True)
# At most this many clients are kept (least recently used dropped; about half a MiB each,
# a dozen per vend), and the credentials of a quarter as many assumed roles.
AWS_CLIENT_CACHE_SIZE = env_int("AWS_CLIENT_CACHE_SIZE", 128)
# AWS Organizations quotas, enforced across every worker (apps/accounts/quotas.py): at most
# this many account creations in flight per organization, CreateAccount calls at this rate
# (per second) with this burst, and creation-status polls likewise.
ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = env_int("ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT", 5)
ORGANIZATIONS_CREATE_ACCOUNT_RATE = env_float("ORGANIZATIONS_CREATE_ACCOUNT_RATE", 0.1)
ORGANIZATIONS_CREATE_ACCOUNT_BURST = env_int("ORGANIZATIONS_CREATE_ACCOUNT_BURST", 3)
ORGANIZATIONS_STATUS_POLL_RATE = env_float("ORGANIZATIONS_STATUS_POLL_RATE", 2.0)
ORGANIZATIONS_STATUS_POLL_BURST = env_int("ORGANIZATIONS_STATUS_POLL_BURST", 2)
# How soon a creation refused for want of a slot asks again, and after how long a slot
# whose worker died stops counting.
ORGANIZATIONS_SLOT_RECHECK_SECONDS = env_float("ORGANIZATIONS_SLOT_RECHECK_SECONDS", 5.0)
ORGANIZATIONS_SLOT_LEASE_SECONDS = env_float("ORGANIZATIONS_SLOT_LEASE_SECONDS", 900.0)
# Fault injection for the emulated AWS (see apps/cloud/faults.py); empty in production.
AWS_FAULTS = env_str("AWS_FAULTS", "")

# --- Notifications -----------------------------------------------------------------
# Email goes out through SES (the emulated SES locally and in tests).
MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
NOTIFICATIONS_FROM_EMAIL = env_str("NOTIFICATIONS_FROM_EMAIL", "bespoke@example.com")
DEFAULT_FROM_EMAIL = NOTIFICATIONS_FROM_EMAIL
# Where people reach this service: links in emails and webhook payloads.
BESPOKE_PUBLIC_URL = env_str("BESPOKE_PUBLIC_URL", "http://127.0.0.1:8000")
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5.0)
# The delays between a webhook delivery's attempts: 1 min, 5 min, 30 min, 1 h, 2 h, 4 h,
# 8 h, 12 h, 24 h, 24 h — eleven attempts over about three days and four hours, as
# receivers expect (Stripe retries for three days).
WEBHOOK_RETRY_SCHEDULE = env_seconds_list(
    "WEBHOOK_RETRY_SCHEDULE", [60, 300, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400]
)
# A subscription whose deliveries keep failing (no success since its first failure) is
# marked unhealthy after this long (operators are alerted), and disabled after this long.
WEBHOOK_UNHEALTHY_AFTER_SECONDS = env_int("WEBHOOK_UNHEALTHY_AFTER_SECONDS", 86400)
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 5 * 86400)

# --- Logging -----------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")  # "json" or "console"
# "prometheus" (GET /metrics), "emf" (CloudWatch Embedded Metric Format lines on stdout) or "off".
METRICS_EXPORTER = env_str("METRICS_EXPORTER", "prometheus")
# How often the gauges are written as EMF lines (only with METRICS_EXPORTER=emf).
METRICS_GAUGES_INTERVAL_SECONDS = env_float("METRICS_GAUGES_INTERVAL_SECONDS", 60.0)
# "off" (no tracer at all), "otlp" (OTLP over HTTP) or "console" (spans printed as JSON).
TRACING_EXPORTER = env_str("TRACING_EXPORTER", "off")
# Where OTLP spans go; unset: the exporter's own default (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
# else http://localhost:4318/v1/traces, the AWS Distro collector layer's address on Lambda).
TRACING_OTLP_ENDPOINT = env_optional("TRACING_OTLP_ENDPOINT")
# The service.name resource attribute of every span.
TRACING_SERVICE_NAME = env_str("TRACING_SERVICE_NAME", "bespoke")
# The share of new traces recorded (0 to 1), decided at the trace's root by its id; the
# rest still carry their context (traceparent, sampled flag 0) and cost little.
TRACING_SAMPLE_RATIO = env_float("TRACING_SAMPLE_RATIO", 1.0)
# prometheus-client reads it from the environment itself: every process of a host shares it.
PROMETHEUS_MULTIPROC_DIR = env_optional("PROMETHEUS_MULTIPROC_DIR")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": "apps.kernel.logging.build_formatter",
            "output": LOG_FORMAT,
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},
    },
}

# --- Webhooks: where they may go, and how their signing secrets are kept -------------
# Receivers are reached over https at public addresses only (apps/kernel/egress/).
# WEBHOOK_ALLOWED_NETWORKS (CIDRs, comma-separated) lets an operator allow a receiver on a
# private network; the cloud metadata addresses stay refused whatever it says.
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", True)
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", [])
# Signing secrets are stored encrypted with these Fernet keys (comma-separated): the first
# encrypts, every one decrypts. To rotate, put a new key first, run
# `manage.py reencrypt_webhook_secrets`, then drop the old key. No default: a process that
# loads the notifications app refuses to start without one (the embedded mode and the tests
# set their own).
WEBHOOK_SECRET_KEYS = env_list("WEBHOOK_SECRET_KEYS", [])
# The secrets of API clients' SigV4 access key pairs (the legacy paths) are stored encrypted
# with these Fernet keys, rotated the same way; empty: WEBHOOK_SECRET_KEYS.
CLIENT_SECRET_KEYS = env_list("CLIENT_SECRET_KEYS", [])


# --- Integration steps (``http``): endpoints outside AWS a blueprint's steps POST to ------
# Each is ``name=url`` (comma-separated): a step's ``endpoint`` parameter names one. They are
# reached through the same egress guard as webhooks (https, public addresses, no redirects)
# unless INTEGRATION_ALLOWED_NETWORKS (CIDRs) allows a private receiver. POSTs are signed
# like webhooks with INTEGRATION_SIGNING_SECRET (no default: a step fails with
# ``integration_not_configured`` without one; the embedded mode and the tests set theirs).
INTEGRATION_ENDPOINTS = env_list("INTEGRATION_ENDPOINTS", [])
INTEGRATION_SIGNING_SECRET = env_str("INTEGRATION_SIGNING_SECRET", "")
INTEGRATION_REQUIRE_HTTPS = env_bool("INTEGRATION_REQUIRE_HTTPS", True)
INTEGRATION_ALLOWED_NETWORKS = env_list("INTEGRATION_ALLOWED_NETWORKS", [])
INTEGRATION_TIMEOUT_SECONDS = env_float("INTEGRATION_TIMEOUT_SECONDS", 10.0)


def derived_fernet_key(secret: str, *, purpose: str) -> str:
    """A Fernet key derived from another secret: for the embedded mode and tests only."""
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(f"{purpose}:{secret}".encode()).digest()).decode()
