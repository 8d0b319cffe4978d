"""SigV4 access key pairs and IAM principals: how the legacy paths know their caller.

A key pair is issued with its client (``create_client --sigv4``) and shown once; its secret
is stored encrypted under ``CLIENT_SECRET_KEYS`` (default: ``WEBHOOK_SECRET_KEYS``), the
only thing a signature check needs. Behind API Gateway's IAM authorization, API Gateway has
checked the signature already and names the caller's IAM ARN: the client that lists that
ARN is the caller.
"""

import secrets
import string
from collections.abc import Sequence

from django.conf import settings
from django.db import connection

from apps.clients import sigv4
from apps.clients.contracts import Principal
from apps.clients.models import ApiClient, SigV4Key
from apps.clients.services import LAST_USED_RESOLUTION, access_of
from apps.kernel import clock, keyring

KEY_ID_PREFIX = "BSPK"
_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"


def secret_keys() -> tuple[Sequence[str], str]:
    """The key ring that encrypts SigV4 secrets, and the setting it came from."""
    own = list(getattr(settings, "CLIENT_SECRET_KEYS", []) or [])
    if own:
        return own, "CLIENT_SECRET_KEYS"
    return list(settings.WEBHOOK_SECRET_KEYS), "WEBHOOK_SECRET_KEYS"


def sigv4_key_issue(*, client: ApiClient) -> tuple[str, str]:
    """A new access key pair of ``client``: (access key id, secret access key), shown once."""
    access_key_id = KEY_ID_PREFIX + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)
    keys, setting = secret_keys()
    SigV4Key.objects.create(
        access_key_id=access_key_id,
        client=client,
        secret_encrypted=keyring.encrypt(secret, keys, setting=setting),
        created_at=clock.now(),
    )
    return access_key_id, secret


def _principal(client: ApiClient, *, via: str) -> Principal:
    return Principal(
        client_id=client.id,
        name=client.name,
        scopes=frozenset(client.scopes),
        token_prefix=via,
        access=access_of(client),
    )


def sigv4_authenticate(request: sigv4.SignedRequest) -> Principal:
    """The client that signed ``request``; ``sigv4.SignatureError`` if none did."""
    credential = sigv4.parse(request)
    stored = (
        SigV4Key.objects.select_related("client")
        .filter(access_key_id=credential.access_key_id, revoked_at__isnull=True, client__active=True)
        .first()
    )
    if stored is None:
        raise sigv4.SignatureError(sigv4.UNRECOGNIZED_CLIENT, sigv4.INVALID_KEY)
    keys, setting = secret_keys()
    try:
        secret = keyring.decrypt(stored.secret_encrypted, keys, setting=setting)
    except keyring.InvalidToken as error:  # the ring lost the key it was encrypted with
        raise sigv4.SignatureError(sigv4.UNRECOGNIZED_CLIENT, sigv4.INVALID_KEY) from error
    now = clock.now()
    sigv4.verify(request, credential, secret, now)
    if stored.last_used_at is None or now - stored.last_used_at >= LAST_USED_RESOLUTION:
        SigV4Key.objects.filter(pk=stored.pk).update(last_used_at=now)
    return _principal(stored.client, via=stored.access_key_id)


def iam_principal_authenticate(*, arn: str) -> Principal | None:
    """The active client that lists ``arn`` among the IAM principals it accepts."""
    if not arn:
        return None
    active = ApiClient.objects.filter(active=True).prefetch_related("grants").order_by("pk")
    if connection.features.supports_json_field_contains:  # PostgreSQL: one indexed lookup
        client = active.filter(iam_arns__contains=[arn]).first()
    else:  # SQLite (the embedded mode) has no JSON containment: its few clients are read
        client = next((each for each in active if arn in each.iam_arns), None)
    return _principal(client, via="iam") if client else None


__all__ = ["KEY_ID_PREFIX", "iam_principal_authenticate", "sigv4_authenticate", "sigv4_key_issue"]
