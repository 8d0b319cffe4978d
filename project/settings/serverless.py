"""The serverless mode: Lambda (deployed by Zappa), PostgreSQL on RDS, SQS as the broker.

Producers keep calling the same Celery tasks; kombu's SQS transport puts each queue's
messages on its own SQS queue, and Lambda consumes them (``deploy/lambda_sqs.py``). Only
settings change. Secrets come from Secrets Manager (``BESPOKE_SECRETS_ID``) at cold start,
never from the package: see ``project/settings/secrets.py`` and ``deploy/env/``.
"""

import os

from project.settings.secrets import load_secrets_into_environ

# Before production.py reads DJANGO_SECRET_KEY and DATABASE_URL.
load_secrets_into_environ()
# SQS is the broker here; no Redis is needed (production.py would otherwise require it).
os.environ.setdefault("CELERY_BROKER_URL", "sqs://")

from project.settings.env import env_bool, env_float, env_int, env_list, env_optional, env_str  # noqa: E402
from project.settings.production import *  # noqa: E402
from project.settings.sqs import predefined_queues  # noqa: E402
from tasks.subscriptions import all_queues  # noqa: E402

AWS_REGION = env_str("AWS_REGION", AWS_DEFAULT_REGION)
# A frozen Lambda environment runs no thread between invocations: relay in the invocation.
OUTBOX_RELAY_IN_BACKGROUND = False
# Lambda has no scrape target: metrics are Embedded Metric Format lines in the logs.
METRICS_EXPORTER = env_str("METRICS_EXPORTER", "emf")
# One AWS attempt must fit in an invocation with room to spare (a 30 s function starts a
# record with 13 s + the consumer's 2 s reserve left); each attempt is checked against
# the invocation's remaining time (apps/cloud/budget.py).
AWS_CONNECT_TIMEOUT = env_float("AWS_CONNECT_TIMEOUT", 3.0)
AWS_READ_TIMEOUT = env_float("AWS_READ_TIMEOUT", 10.0)
# Celery queue q.network is SQS queue <SQS_QUEUE_PREFIX>q-network (one prefix per stage).
SQS_QUEUE_PREFIX = env_str("SQS_QUEUE_PREFIX", "bespoke-")
# e.g. https://sqs.us-east-1.amazonaws.com/123456789012/ — with it, kombu is told every
# queue's URL and never lists or creates queues; without it, it looks them up by name.
SQS_QUEUE_URL_BASE = env_optional("SQS_QUEUE_URL_BASE")

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": AWS_REGION,
    "queue_name_prefix": SQS_QUEUE_PREFIX,
    "visibility_timeout": env_int("SQS_VISIBILITY_TIMEOUT", 900),
    "polling_interval": 1,
    # A publish that cannot reach SQS fails fast: the outbox keeps the message.
    "client-config": {"connect_timeout": 3, "read_timeout": 10, "retries": {"max_attempts": 2, "mode": "standard"}},
}
if SQS_QUEUE_URL_BASE:
    CELERY_BROKER_TRANSPORT_OPTIONS["predefined_queues"] = predefined_queues(
        SQS_QUEUE_PREFIX, SQS_QUEUE_URL_BASE, all_queues()
    )

# API Gateway's own host names (only our API can invoke our function); custom domains
# come from DJANGO_ALLOWED_HOSTS.
ALLOWED_HOSTS = [*env_list("DJANGO_ALLOWED_HOSTS", []), f".execute-api.{AWS_REGION}.amazonaws.com"]
# API Gateway only serves HTTPS and terminates TLS itself: the function never sees plain
# HTTP, so there is nothing to redirect.
SECURE_SSL_REDIRECT = False
SILENCED_SYSTEM_CHECKS = ["security.W008"]
# Every Lambda container serves the API: without a cache server, rate limits are counted
# in the database so that they hold across containers (the table is made by a migration).
CACHES = cache_settings(url=env_optional("CACHE_URL"), shared=True)
# Without a pooler in front of the database, every frozen Lambda environment would hold a
# connection: none is kept by default. Behind RDS Proxy (the foundation stack) an idle
# client connection costs the database nothing, so the stages keep one for a while
# (DB_CONN_MAX_AGE, below the proxy's IdleClientTimeout) and check it before reuse
# (CONN_HEALTH_CHECKS): a warm invocation skips the TLS handshake and the token login.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0)
# The foundation's proxy requires IAM authentication: each new connection signs a token.
if env_bool("DB_IAM_AUTH", False):
    DATABASES["default"]["ENGINE"] = "apps.cloud.postgres_iam"
