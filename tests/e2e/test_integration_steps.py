"""End to end as `make run` runs it: the demo blueprint with its integration steps against
the embedded mode's stand-in receiver, which answers 202 and calls Bespoke back over HTTP
(a live server here), so every step — the original's every task — reaches complete."""

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tasks.demo import seed_demo
from tasks.embedded import worker_threads
from tasks.integrations_receiver import integrations_receiver
from tests.conftest import EmulatedAws
from tests.support.bus import purge_in_process_broker
from tests.support.factories import request_body
from tests.support.polling import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _empty_broker() -> None:
    """What earlier tests relayed to the in-process broker is not this test's work."""
    purge_in_process_broker()


def test_every_step_of_the_demo_blueprint_with_its_integrations_completes(
    aws: EmulatedAws, settings: Any, tmp_path: Path, live_server: Any
) -> None:
    settings.BESPOKE_PUBLIC_URL = live_server.url  # where the receiver calls back
    with integrations_receiver(secret=settings.INTEGRATION_SIGNING_SECRET) as receiver:
        settings.INTEGRATION_ENDPOINTS = [
            f"active-directory={receiver}/active-directory",
            f"cloudability={receiver}/cloudability",
        ]
        seed = seed_demo(var_dir=tmp_path)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {seed.token}")
        with worker_threads(concurrency=4):
            accepted = api.post("/v1/account-requests", request_body(), format="json")
            status = wait_for(
                lambda: api.get(accepted["Location"]).json(),
                until=lambda body: body["status"] in ("succeeded", "failed"),
                timeout=120,
            )

    assert status["status"] == "succeeded", status
    states = {step["name"]: step["state"] for step in status["steps"]}
    assert set(states.values()) == {"succeeded"}, states
    assert {"ad_distribution_list", "ad_security_groups", "cloudability", "account_validation", "notify"} <= set(states)
    outputs = {step["name"]: step["outputs"] for step in status["steps"]}
    assert outputs["ad_security_groups"]["groups"] == ["aws-demo-msfp-dev-admins", "aws-demo-msfp-dev-readonly"]
    assert outputs["cloudability"]["http_status"] == 200
    legacy = {step["legacy_name"] for step in status["steps"]}
    assert {"CLA_VALIDATION", "AD_DL", "AD_SEC_GROUPS", "CLOUDABILITY", "NOTIFY"} <= legacy
