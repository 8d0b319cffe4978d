"""The peeled ``network`` function: consumes ``q.network`` and nothing else.

Its Zappa stage (``production-network``) packages only the contexts it runs and boots
Django with ``project.settings.network_function`` (kernel, network, tasks). The queue's
event source mapping points here instead of at the monolith; the producers — the
workflow's ``RunStep`` commands, the ``RunFailed`` fan-out — change nothing. A record from
another queue is reported as failed, never run here.
"""

from deploy.runtime import make_handler

QUEUES = ("q.network",)

lambda_handler = make_handler(queues=QUEUES)
