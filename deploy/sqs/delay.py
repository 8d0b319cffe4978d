"""Delays on SQS: kombu does not turn a Celery ``eta`` into an SQS ``DelaySeconds``.

A message is given one when it is published (``add_sqs_delay``), and one that arrives
early anyway (a longer wait than SQS can hold, clocks that drift) is published again with
the delay it still needs (``Republisher``)."""

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from celery import signals

from deploy.sqs.messages import CeleryMessage, Undecodable, instant, queue_name_of

# SQS's longest per-message delay.
MAX_DELAY_SECONDS = 900

_ATTRIBUTE_KEYS = {"dataType": "DataType", "stringValue": "StringValue", "binaryValue": "BinaryValue"}


class Republisher:
    """Publishes a record's body again, delayed, to the queue it came from."""

    def __init__(self, client_factory: Callable[[str], Any], *, transport_options: Mapping[str, Any]) -> None:
        self._client_factory = client_factory
        # The queue URLs and region kombu publishes with (predefined_queues), so that a
        # deferred message goes where a fresh one would, without a lookup.
        self._predefined: Mapping[str, Any] = transport_options.get("predefined_queues") or {}
        self._region = str(transport_options.get("region") or "us-east-1")
        self._urls: dict[str, str] = {}

    def queue_url(self, client: Any, arn: str) -> str:
        url = self._urls.get(arn)
        if url is None:
            url = (self._predefined.get(queue_name_of(arn)) or {}).get("url")
            if not url:
                _, _, _, _, account, name = arn.split(":", 5)
                url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self._urls[arn] = str(url)
        return self._urls[arn]

    def publish(self, message: CeleryMessage, *, delay_seconds: int, record: Mapping[str, Any]) -> None:
        parts = message.queue_arn.split(":")
        client = self._client_factory(parts[3] if len(parts) == 6 and parts[3] else self._region)
        # Lambda spells message attributes {"stringValue", "binaryValue", "dataType"}; SQS's API
        # wants them capitalised.
        attributes = {
            name: {_ATTRIBUTE_KEYS[k]: v for k, v in value.items() if k in _ATTRIBUTE_KEYS and v is not None}
            for name, value in (record.get("messageAttributes") or {}).items()
        }
        client.send_message(
            QueueUrl=self.queue_url(client, message.queue_arn),
            MessageBody=message.body,
            DelaySeconds=delay_seconds,
            **({"MessageAttributes": attributes} if attributes else {}),
        )


def sqs_client(region: str) -> Any:
    from apps.cloud import api as cloud

    return cloud.client("sqs", region=region)


def add_sqs_delay(sender: Any = None, headers: dict[str, Any] | None = None, properties: Any = None, **_: Any) -> None:
    """``before_task_publish``: give a message with a future ``eta`` (``countdown=``,
    ``retry()``) an SQS ``DelaySeconds``, so SQS holds it back instead of the consumer
    receiving it early and publishing it again. kombu's SQS transport passes the property
    on (capped at 900 s; a longer eta is deferred again on arrival)."""
    if headers is None or not isinstance(properties, dict):
        return
    eta = headers.get("eta")
    if not eta:
        return
    try:
        when = instant(eta, "eta")
    except Undecodable:
        return
    if when is None:
        return
    delay = math.ceil(when.timestamp() - time.time())
    if delay > 0:
        properties["DelaySeconds"] = min(MAX_DELAY_SECONDS, delay)


def install_sqs_delay() -> None:
    signals.before_task_publish.connect(add_sqs_delay, weak=False, dispatch_uid="bespoke.sqs_delay")
