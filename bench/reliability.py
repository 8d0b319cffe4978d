"""Reliability under faults: requests accepted vs completed under fault mixes, time from a
fault cleared to every run completed, and the extra AWS calls retries cost — each against
a fault-free baseline measured in the same run.

    .venv/bin/python bench/reliability.py [--accounts 5] [--workers 4]

Runs the embedded mode in this process (SQLite, in-process broker, worker threads, the
demo payer and blueprint) against moto_server in a process of its own.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
os.environ.setdefault("BESPOKE_VAR_DIR", tempfile.mkdtemp(prefix="bespoke-bench-"))
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from apps.cloud import api as cloud  # noqa: E402
from apps.cloud.emulator import free_port  # noqa: E402
from apps.kernel.deadletters import dead_letter_list, dead_letter_redrive  # noqa: E402
from bench.support import moto_server_process, request_body  # noqa: E402
from tasks.demo import seed_demo  # noqa: E402
from tasks.embedded import worker_threads  # noqa: E402

_calls = 0
_calls_lock = threading.Lock()
_make_client = cloud.client


def _counting_client(*args: Any, **kwargs: Any) -> Any:
    """Every AWS client made by Bespoke, counting each HTTP request it sends (retries too)."""
    client = _make_client(*args, **kwargs)

    def count(**_: Any) -> None:
        global _calls
        with _calls_lock:
            _calls += 1

    # Clients are reused across calls: count through each one once.
    client.meta.events.register("before-send", count, unique_id="bench-reliability-counts")
    return client


cloud.client = _counting_client  # type: ignore[assignment]


def _submit(client: Client, token: str, names: list[str]) -> list[str]:
    locations = []
    for name in names:
        body = request_body(name)
        response = client.post(
            "/v1/account-requests", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert response.status_code == 202, response.content
        locations.append(response["Location"])
    return locations


def _wait(client: Client, token: str, locations: list[str], *, timeout: float = 600) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        statuses = [
            client.get(location, HTTP_AUTHORIZATION=f"Bearer {token}").json()["status"] for location in locations
        ]
        if all(status in ("succeeded", "failed") for status in statuses) or time.monotonic() > deadline:
            return {status: statuses.count(status) for status in set(statuses)}
        time.sleep(0.1)


def _scenario(client: Client, token: str, names: list[str], faults: str) -> tuple[dict[str, int], float, int]:
    global _calls
    settings.AWS_FAULTS = faults
    _calls = 0
    started = time.perf_counter()
    outcome = _wait(client, token, _submit(client, token, names))
    return outcome, time.perf_counter() - started, _calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    with moto_server_process(free_port()) as emulator_url:
        settings.AWS_ENDPOINT_URL = emulator_url
        settings.ALLOWED_HOSTS = ["*"]
        settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 1000  # the quota is not what is measured here
        settings.TASK_RETRY_BASE_SECONDS = 0.5
        settings.TASK_RETRY_MAX_SECONDS = 5.0
        seed = seed_demo(var_dir=Path(settings.VAR_DIR))
        client = Client()
        n = args.accounts
        rows = []
        with worker_threads(concurrency=args.workers):
            _scenario(client, seed.token, ["warm"], "")
            base_outcome, base_time, base_calls = _scenario(client, seed.token, [f"base{i}" for i in range(n)], "")
            rows.append(("no faults", base_outcome, base_time, base_calls))
            for label, faults in (
                ("30% of calls throttled", "*:*:Throttling:0.3"),
                ("creations IN_PROGRESS for 3 polls", "organizations:DescribeCreateAccountStatus:in_progress=3"),
                ("5% of calls fail with a 500", "*:*:InternalError:0.05"),
            ):
                slug = "".join(ch for ch in label if ch.isalnum())[:6].lower()
                outcome, seconds, calls = _scenario(client, seed.token, [f"{slug}{i}" for i in range(n)], faults)
                rows.append((label, outcome, seconds, calls))

            # An outage: EC2 refuses everything, runs fail into dead letters; the fault is
            # cleared and the dead letters are redriven.
            settings.AWS_FAULTS = "ec2:*:ServiceUnavailable"
            settings.TASK_MAX_RETRIES = 1
            locations = _submit(client, seed.token, [f"outage{i}" for i in range(n)])
            failed = _wait(client, seed.token, locations)
            settings.AWS_FAULTS = ""
            settings.TASK_MAX_RETRIES = 8
            cleared = time.perf_counter()
            _, letters = dead_letter_list(state="open", limit=1000)
            for letter in letters:
                try:
                    dead_letter_redrive(dead_letter_id=letter.id, by="bench")
                except Exception as error:  # an obsolete letter of an already-retried request
                    print(f"  (not redriven: {error})")
            recovered = _wait(client, seed.token, locations)
            recovery = time.perf_counter() - cleared
        settings.AWS_FAULTS = ""

    print(f"{n} accounts per scenario, {args.workers} worker threads, demo blueprint (10 steps)")
    print(f"  {'scenario':<36} {'accepted':>8} {'completed':>9} {'seconds':>8} {'AWS calls':>10} {'extra calls':>12}")
    for label, outcome, seconds, calls in rows:
        extra = (calls - base_calls) / base_calls
        print(f"  {label:<36} {n:>8} {outcome.get('succeeded', 0):>9} {seconds:>8.1f} {calls:>10} {extra:>+11.0%}")
    print(
        f"  EC2 outage: {n} accepted, {failed.get('failed', 0)} failed into dead letters; after the fault cleared, "
        f"redriving completed {recovered.get('succeeded', 0)} of {n} in {recovery:.1f} s"
    )


if __name__ == "__main__":
    main()
