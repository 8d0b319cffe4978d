"""Secrets for the serverless mode, read from AWS Secrets Manager once per cold start.

A Lambda package holds no secret: the function's environment names a secret
(``BESPOKE_SECRETS_ID``, a name or ARN) whose value is a JSON object of environment
variables — ``DJANGO_SECRET_KEY``, ``DATABASE_URL``, and anything else a stage keeps out of
its configuration (``SQS_QUEUE_URL_BASE``, ``DJANGO_ALLOWED_HOSTS``…). They are put into
``os.environ`` before the settings read it. A variable already set in the environment wins,
so an operator can override one value without touching the secret.

boto3 is imported only when a secret is named (the other modes never pay for it); it
honours ``AWS_ENDPOINT_URL`` like every other AWS call here, so tests read the secret from
the emulated Secrets Manager.
"""

import json
import os
import re

from django.core.exceptions import ImproperlyConfigured

SECRETS_ID_VARIABLE = "BESPOKE_SECRETS_ID"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def load_secrets_into_environ(environ: "os._Environ[str] | dict[str, str] | None" = None) -> list[str]:
    """Fill the environment from the secret named by ``BESPOKE_SECRETS_ID``, if any.

    Returns the names of the variables it set (never their values: they are secrets).
    """
    target = os.environ if environ is None else environ
    secret_id = target.get(SECRETS_ID_VARIABLE, "").strip()
    if not secret_id:
        return []
    values = _fetch(secret_id, region=target.get("AWS_REGION") or target.get("AWS_DEFAULT_REGION") or None)
    loaded = []
    for name, value in values.items():
        if not _NAME.match(name) or not isinstance(value, str | int | float | bool):
            raise ImproperlyConfigured(
                f"Secret {secret_id} must be a JSON object of environment variables; {name!r} is not one."
            )
        if name not in target:
            target[name] = str(value).lower() if isinstance(value, bool) else str(value)
            loaded.append(name)
    return loaded


def _fetch(secret_id: str, *, region: str | None) -> dict[str, object]:
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    try:
        raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as error:
        # Without its secrets the function cannot serve anything: fail the cold start loudly,
        # naming the secret (never its content).
        raise ImproperlyConfigured(f"Could not read secret {secret_id}: {type(error).__name__}: {error}") from error
    try:
        values = json.loads(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"Secret {secret_id} is not a JSON object.") from error
    if not isinstance(values, dict):
        raise ImproperlyConfigured(f"Secret {secret_id} is not a JSON object.")
    return values
