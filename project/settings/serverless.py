"""The serverless mode: Lambda (deployed by Zappa), PostgreSQL on RDS, SQS as the broker.

Producers keep calling the same Celery tasks; kombu's SQS transport puts each queue's
messages on its own SQS queue, and Lambda consumes them (deploy/). Only settings change.
"""

import os

# SQS is the broker here; no Redis is needed (production.py would otherwise require it).
os.environ.setdefault("CELERY_BROKER_URL", "sqs://")

from project.settings.env import env_int, env_str
from project.settings.production import *

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1")),
    "queue_name_prefix": env_str("SQS_QUEUE_PREFIX", "bespoke-"),
    "visibility_timeout": env_int("SQS_VISIBILITY_TIMEOUT", 900),
    "polling_interval": 1,
}
# API Gateway only serves HTTPS and terminates TLS itself: the function never sees plain
# HTTP, so there is nothing to redirect.
SECURE_SSL_REDIRECT = False
SILENCED_SYSTEM_CHECKS = ["security.W008"]
# A Lambda environment is frozen between invocations: don't keep connections across freezes.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0)
