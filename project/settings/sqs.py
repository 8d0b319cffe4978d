"""SQS queue names and URLs for the serverless mode (shared by the settings and deploy/).

kombu's SQS transport turns a Celery queue name into an SQS queue name by putting the
prefix in front and replacing dots with dashes (``bespoke-dev-`` + ``q.network`` →
``bespoke-dev-q-network``); the CloudFormation template creates queues with exactly
these names, and the settings hand kombu their URLs (``predefined_queues``) so that a
function never lists or creates queues — no ``sqs:ListQueues``/``sqs:CreateQueue``
permission, and no lookup call at cold start.
"""

import string

# kombu.transport.SQS.Channel.entity_name: "." becomes "-", other punctuation but "-" and
# "_" becomes "_". (tests/deploy checks the two agree.)
_TRANSLATION = {ord(c): ord("_") for c in string.punctuation if c not in "-_."}
_TRANSLATION[ord(".")] = ord("-")


def sqs_queue_name(prefix: str, queue: str) -> str:
    """The SQS queue name kombu uses for Celery queue ``queue`` (e.g. ``q.network``)."""
    return (prefix + queue).translate(_TRANSLATION)


def predefined_queues(prefix: str, url_base: str, queues: list[str]) -> dict[str, dict[str, str]]:
    """kombu's ``predefined_queues``: SQS name → URL, for every Celery queue."""
    base = url_base if url_base.endswith("/") else url_base + "/"
    return {name: {"url": base + name} for name in (sqs_queue_name(prefix, queue) for queue in queues)}
