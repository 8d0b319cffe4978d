"""Reading an SQS record as kombu's SQS transport wrote it: base64 SQS body → JSON envelope
→ protocol-2 headers + ``[args, kwargs, embed]`` body, JSON only."""

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.serialization import loads

JSON_ONLY = frozenset({"application/json"})


class Undecodable(Exception):
    """A record that is not a Celery message this function can run."""


@dataclass(frozen=True, slots=True)
class CeleryMessage:
    """One SQS record, decoded."""

    record_id: str
    queue_arn: str
    body: str  # the SQS body as received, for publishing it again unchanged
    task_name: str
    task_id: str
    retries: int
    eta: datetime | None
    expires: datetime | None
    headers: dict[str, Any]
    properties: dict[str, Any]
    args: list[Any]
    kwargs: dict[str, Any]
    embed: dict[str, Any]
    receive_count: int = 1

    @property
    def queue_name(self) -> str:
        return queue_name_of(self.queue_arn)


def queue_name_of(arn: str) -> str:
    """``arn:aws:sqs:region:account:name`` → ``name``."""
    return arn.rsplit(":", 1)[-1]


def instant(value: Any, name: str) -> datetime | None:
    """A header's ISO 8601 time (naive means UTC), or None if it has none."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise Undecodable(f"Header {name} is not an ISO 8601 time: {value!r}.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise Undecodable(f"{what} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Undecodable(f"{what} is not a JSON object.")
    return value


def _sqs_envelope(body: str) -> dict[str, Any]:
    """kombu writes the envelope as base64 (``sqs_base64_encoding``, the default) or as
    plain JSON; read both, as kombu's own consumer does."""
    text = body.strip()
    if text.startswith("{"):
        return _json_object(text, "The SQS body")
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Undecodable("The SQS body is neither JSON nor base64.") from None
    return _json_object(decoded, "The base64-decoded SQS body")


def decode_record(record: Mapping[str, Any], *, accept: Collection[str] = JSON_ONLY) -> CeleryMessage:
    """A Celery protocol-2 message from an SQS record; ``Undecodable`` if it is not one.
    ``accept``: the content types it may be serialized with (kombu's names, built once by
    the caller)."""
    raw_body = record.get("body")
    if not isinstance(raw_body, str):
        raise Undecodable("The record has no body.")
    envelope = _sqs_envelope(raw_body)
    headers = envelope.get("headers")
    properties = envelope.get("properties") or {}
    if not isinstance(headers, dict) or not isinstance(properties, dict):
        raise Undecodable("The envelope has no headers: not a Celery protocol-2 message.")
    task_name, task_id = headers.get("task"), headers.get("id")
    if not isinstance(task_name, str) or not isinstance(task_id, str) or not task_name or not task_id:
        raise Undecodable("The message headers name no task and id.")
    payload = envelope.get("body", "")
    try:
        body = base64.b64decode(payload) if properties.get("body_encoding") == "base64" else str(payload).encode()
    except (binascii.Error, ValueError):
        raise Undecodable("The message body is not valid base64.") from None
    try:
        decoded = loads(
            body,
            str(envelope.get("content-type") or ""),
            str(envelope.get("content-encoding") or "utf-8"),
            accept=accept,
        )
    except (ContentDisallowed, DecodeError) as error:
        raise Undecodable(f"The message body cannot be read: {error}") from None
    if not (isinstance(decoded, list | tuple) and len(decoded) == 3):
        raise Undecodable("The message body is not [args, kwargs, embed].")
    args, kwargs, embed = decoded
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict) or not isinstance(embed, dict | None):
        raise Undecodable("The message body is not [args, kwargs, embed].")
    attributes = record.get("attributes") or {}
    try:
        receive_count = int(attributes.get("ApproximateReceiveCount", 1))
        retries = int(headers.get("retries") or 0)
    except (TypeError, ValueError):
        raise Undecodable("A count in the record is not a number.") from None
    return CeleryMessage(
        record_id=str(record.get("messageId", "")),
        queue_arn=str(record.get("eventSourceARN", "")),
        body=raw_body,
        task_name=task_name,
        task_id=task_id,
        retries=retries,
        eta=instant(headers.get("eta"), "eta"),
        expires=instant(headers.get("expires"), "expires"),
        headers=headers,
        properties=properties,
        args=list(args),
        kwargs=kwargs,
        embed=embed or {},
        receive_count=receive_count,
    )
