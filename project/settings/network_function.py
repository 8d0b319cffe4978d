"""The peeled ``network`` function (``deploy/functions/network.py``): the serverless mode
with only the contexts that function runs.

It consumes ``q.network``: the network steps (``vpc``, ``flow_logs``, ``dns``,
``direct_connect``) and ``network.on_run_failed``. Those need the network context's tables,
the kernel (outbox, inbox, step protocol), ``apps.cloud`` (a package, not a Django app) and
the messaging layer (``tasks``) to relay what they record. No admin, no API, no auth: the
function answers SQS batches only. import-linter's "network function" contract keeps it
from importing any other context.
"""

from project.settings.serverless import *

INSTALLED_APPS = [
    "apps.kernel",
    "apps.network",
    # The messaging layer without the monolith's periodic jobs and dead-letter redriver.
    "deploy.functions.network_apps.PeeledMessagingConfig",
]
MIDDLEWARE = []
ROOT_URLCONF = "deploy.functions.network_urls"
TEMPLATES = []
REST_FRAMEWORK = {}
# Sessions, CSRF and cookies don't exist here; production.py's cookie flags stay harmless.
