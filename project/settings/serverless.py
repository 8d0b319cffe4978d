"""The serverless mode: Lambda (deployed by Zappa), PostgreSQL on RDS, SQS as the broker.

Producers keep calling the same Celery tasks; kombu's SQS transport puts each queue's
messages on its own SQS queue, and Lambda consumes them (deploy/). Only settings change.
"""

from project.settings.env import env_int, env_str
from project.settings.production import *

CELERY_BROKER_URL = "sqs://"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1")),
    "queue_name_prefix": env_str("SQS_QUEUE_PREFIX", "bespoke-"),
    "visibility_timeout": env_int("SQS_VISIBILITY_TIMEOUT", 900),
    "polling_interval": 1,
}
# API Gateway terminates TLS; the function only ever sees HTTPS requests.
SECURE_SSL_REDIRECT = False
# A Lambda environment is short-lived: don't keep connections across freezes.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0)
