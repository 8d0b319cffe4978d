"""``zappa deploy`` then ``zappa update`` of the dev stage against moto's server, with the
queues template applied before (roles) and after (event source mappings)."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EmulatedAws
from tests.deploy import harness

pytestmark = pytest.mark.slow


def zappa(*args: str, aws_url: str) -> str:
    venv = harness.ROOT / ".venv-package"
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": harness.REGION,
    }
    result = subprocess.run(
        [str(venv / "bin" / "python"), str(Path(__file__).with_name("zappa_on_moto.py")), *args],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"zappa {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def test_deploy_then_update_dev(packages: dict[str, Path], aws: EmulatedAws) -> None:
    zip_path = str(packages["dev"].relative_to(harness.ROOT))
    harness.create_queues(aws.url, "dev")  # the role Zappa's stage names must exist first

    zappa("deploy", "dev", "--zip", zip_path, aws_url=aws.url)
    queues = harness.create_queues(aws.url, "dev")  # now the function exists: its mappings
    zappa("update", "dev", "--zip", zip_path, aws_url=aws.url)

    function = aws.client("lambda").get_function(FunctionName="bespoke-dev")["Configuration"]
    assert function["Handler"] == "deploy.lambda_handler.lambda_handler"
    assert function["Runtime"] == "python3.12"
    assert function["Role"].endswith(":role/bespoke-dev-monolith")
    assert function["Environment"]["Variables"]["BESPOKE_SECRETS_ID"] == "bespoke/dev"
    assert "DJANGO_SECRET_KEY" not in function["Environment"]["Variables"]
    mappings = aws.client("lambda").list_event_source_mappings(FunctionName="bespoke-dev")["EventSourceMappings"]
    assert sorted(m["EventSourceArn"] for m in mappings) == sorted(queues.arn(q) for q in harness.all_queues())
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    assert int(queues.attributes("q.network")["VisibilityTimeout"]) >= 6 * int(function["Timeout"])
    rules = {r["Name"] for r in aws.client("events").list_rules()["Rules"]}
    assert any(r.endswith("deploy.schedules.sweep_outbox") for r in rules), rules
    assert any(api["name"] == "bespoke-dev" for api in aws.client("apigateway").get_rest_apis()["items"])
