"""The API's contract, fuzzed from outside as a client sees it: schemathesis's command line
against a live server on a spare loopback port, with every check and every phase
(examples, coverage, fuzzing, stateful), a bounded number of examples per operation and a
fresh operator's token. ``schemathesis.toml`` beside this file leaves out the token
endpoints (``tests/clients/test_token_endpoints_contract.py``) and Tailor's legacy paths,
and names the refusals no schema can express. Any failure fails the test, with
schemathesis's report (and the line that replays it) in the message.

The server holds one of everything the stateful phase follows links to: a request (and a
regulated one waiting for approval), an account, a webhook subscription, a dead letter.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.kernel.deadletters import dead_letter_record
from apps.notifications import api as notifications
from tests.support import factories

CONFIG = Path(__file__).with_name("schemathesis.toml")
# Enough to reach every operation and the links between them and stay under two minutes on
# a shared machine (about 75 s on two busy cores; the coverage phase takes most of it,
# whatever this number). Run it by hand with more (docs/api.md#the-contract-fuzzed).
MAX_EXAMPLES = 6
SEED = 20261206

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator_token() -> str:
    """A fresh operator's token, and one of each thing an id can lead to."""
    issued = clients.client_create(name="schema-fuzz", scopes=list(clients.ALL_SCOPES), all_payers=True)
    factories.payer("demo", approval_required_for_regulated=True)
    factories.request(client_id=issued.client_id)
    factories.request(client_id=issued.client_id, regulated=True, tags__project_short_name="regs")
    factories.account(payer_name="demo")
    notifications.subscription_create(
        client_id=issued.client_id, url="http://127.0.0.1:9/hook", events=[], description=""
    )
    dead_letter_record(
        handler="schema.fuzz",
        envelope={"message_id": "00000000-0000-4000-8000-00000000f022", "type": "Fuzzed"},
        error_code="fuzzed",
        error="A dead letter for the fuzz to find.",
        attempts=1,
        history=[],
    )
    assert accounts.payer_get(name="demo") is not None
    return issued.token


def test_the_api_answers_as_its_schema_says(live_server: Any, operator_token: str, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/v1/schema?format=json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--suppress-health-check",
        "all",
        "--header",
        f"Authorization: Bearer {operator_token}",
    ]
    # schemathesis keeps a cache in its working directory: a temporary one, not the checkout.
    environment = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
