"""The Lambda entry points' shared start-up: one function per deployable.

``make_handler(queues)`` is called at import time, i.e. in Lambda's init phase (and, with
SnapStart, before the snapshot): Zappa's handler loads the stage's settings module
(``zappa_settings.py`` in the package) and sets Django up, the Celery tasks are
registered, the SQS consumer is built. The first request then pays only for itself.

The returned handler sends SQS batches to the Celery consumer (``deploy/lambda_sqs.py``)
and everything else — API Gateway v1/v2 requests, scheduled events, ``zappa manage`` and
``zappa invoke`` — to Zappa's own handler, unchanged. Zappa's own SQS routing is not used:
it maps records by queue ARN (account-specific, known only after the queues exist) and
*drops* records from queues it has no mapping for; ours runs every record or reports it.
"""

from collections.abc import Callable, Iterable
from typing import Any

from zappa.handler import LambdaHandler  # type: ignore[import-untyped]

Handler = Callable[[dict[str, Any], Any], Any]


def make_handler(*, queues: Iterable[str] | None) -> Handler:
    """The Lambda handler of a function consuming the Celery ``queues`` (``None``: all)."""
    LambdaHandler()  # the singleton: settings, environment, Django

    from deploy import snapstart
    from deploy.lambda_sqs import BatchConsumer, install_sqs_delay, is_sqs_batch
    from project.celery import app
    from project.settings.sqs import sqs_queue_name

    install_sqs_delay()
    snapstart.register()
    prefix = str((app.conf.broker_transport_options or {}).get("queue_name_prefix", ""))
    consumed = None if queues is None else frozenset(sqs_queue_name(prefix, q) for q in queues)
    consumer = BatchConsumer(app, queues=consumed, import_task_modules=queues is None)

    from apps.kernel import tracing

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        try:
            if is_sqs_batch(event):
                return consumer(event, context)
            return LambdaHandler.lambda_handler(event, context)
        finally:
            tracing.flush()  # the environment may be frozen right after: spans leave now

    return lambda_handler
