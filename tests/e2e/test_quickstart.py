"""The README's quick start, word for word: ``make run`` in the background, then the
README's own curl commands (only the port and the data directory are changed)."""

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from apps.cloud.emulator import free_port
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import ROOT, child_environment, output_of, running, wait_until_serving

pytestmark = pytest.mark.slow


def readme_block(marker: str) -> str:
    """The fenced bash block right after ``<!-- quickstart:<marker> -->`` in the README."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- quickstart:{marker} -->\s*```bash\n(.*?)```", readme, re.DOTALL)
    assert match, f"README.md has no quickstart:{marker} block"
    return match.group(1)


def run_bash(script: str, *, port: int, var_dir: Path) -> str:
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("var/", f"{var_dir}/")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_then_the_readme_curl_succeeds(tmp_path: Path) -> None:
    port = free_port()
    var_dir = tmp_path / "var"
    # Ten accounts at once would queue behind Organizations' CreateAccount quota (one every
    # ten seconds after a burst of three) for over a minute; the quota is proven elsewhere.
    env = child_environment(BESPOKE_VAR_DIR=str(var_dir), ORGANIZATIONS_CREATE_ACCOUNT_BURST="20")
    with running(["make", "--no-print-directory", "run", f"PORT={port}"], env=env, name="make-run") as stack:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", stack, timeout=300)

        accepted = json.loads(run_bash(readme_block("request"), port=port, var_dir=var_dir))
        assert accepted["status"] == "accepted"

        status_script = readme_block("status").replace("<id>", accepted["id"])
        prefix = "TOKEN=$(cat var/demo-token)\n"  # the README sets it in the request block

        def status() -> dict[str, Any]:
            return dict(json.loads(run_bash(prefix + status_script, port=port, var_dir=var_dir)))

        final = wait_for(status, until=lambda body: body["status"] in ("succeeded", "failed"), timeout=30)
        assert final["status"] == "succeeded", f"{final}\n{output_of(stack)}"
        assert re.fullmatch(r"\d{12}", final["account"]["id"])

        # The two tenants, as the README shows them.
        refused, hidden, theirs = (
            json.loads(line)
            for line in run_bash(readme_block("tenants").replace("<id>", accepted["id"]), port=port, var_dir=var_dir)
            .strip()
            .splitlines()
        )
        assert refused["code"] == "payer_not_granted"
        assert hidden["code"] == "not_found"
        assert theirs["status"] == "accepted"
        demo_listed = json.loads(
            run_bash(
                'curl -s -H "Authorization: Bearer $(cat var/demo-token)" http://127.0.0.1:8000/v1/account-requests',
                port=port,
                var_dir=var_dir,
            )
        )
        assert theirs["id"] not in {r["id"] for r in demo_listed["results"]}

        # The embedded mode takes concurrent clients: ten at once, no 5xx, all succeed.
        token = (var_dir / "demo-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}

        def post(index: int) -> requests.Response:
            body = request_body(tags__project_short_name=f"load{index}")
            return requests.post(f"http://127.0.0.1:{port}/v1/account-requests", json=body, headers=headers, timeout=30)

        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(post, range(10)))
        assert [r.status_code for r in responses] == [202] * 10, [r.text for r in responses]

        # A burst beyond a development server's listen queue (Django's has 10): 30 POSTs at
        # once (dry runs: the whole API path, no account to wait for) all get an answer.
        def dry_run(index: int) -> int:
            body = request_body(tags__project_short_name=f"burst{index}")
            url = f"http://127.0.0.1:{port}/v1/account-requests?dry_run=true"
            return requests.post(url, json=body, headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            assert list(pool.map(dry_run, range(30))) == [200] * 30
        for response in responses:
            done = wait_for(
                lambda url=response.headers["Location"]: requests.get(url, headers=headers, timeout=10).json(),
                until=lambda body: body["status"] in ("succeeded", "failed"),
                timeout=180,  # a correctness check, not a timing one: a loaded machine is slow
            )
            assert done["status"] == "succeeded", done
