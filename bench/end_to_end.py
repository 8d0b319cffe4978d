"""End to end: wall time from POST to ``succeeded`` for one account and for ten at once,
against the floor — a straight-line script making the same AWS calls (the same step
functions, one after another, no messaging) against the same emulator, in the same run.

    .venv/bin/python bench/end_to_end.py [--workers 4] [--accounts 10]

Runs the embedded mode in this process (SQLite, the in-process broker with worker
threads, the demo payer and its blueprint) against moto's server in a process of its own
on a loopback port — its CPU is not ours, as with AWS.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
os.environ.setdefault("BESPOKE_VAR_DIR", tempfile.mkdtemp(prefix="bespoke-bench-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from apps.accounts import api as accounts  # noqa: E402
from apps.cloud.emulator import free_port  # noqa: E402
from apps.kernel import catalog  # noqa: E402
from apps.kernel.steps import StepContext  # noqa: E402
from apps.workflow.models import StepRun  # noqa: E402
from apps.workflow.plans import execution_order, plan_from_blueprint  # noqa: E402
from bench.support import moto_server_process, request_body  # noqa: E402
from tasks.demo import seed_demo  # noqa: E402
from tasks.embedded import worker_threads  # noqa: E402
from tasks.subscriptions import STEP_RUNNERS  # noqa: E402


def _step_functions() -> dict[str, Any]:
    """Every declared step's function (the step catalog)."""
    return {name: function for context in STEP_RUNNERS for name, function in catalog.runners(context).items()}


def straight_line(short_name: str) -> tuple[float, dict[str, float]]:
    """The floor: every step of the demo blueprint called in order, in this thread."""
    blueprint = accounts.blueprint_for(payer="demo", environment="dev", regulated=False)
    assert blueprint is not None
    plan = {spec.name: spec for spec in plan_from_blueprint(blueprint.steps)}
    functions = _step_functions()
    payer = accounts.payer_get(name="demo")
    assert payer is not None
    inputs: dict[str, Any] = {
        **request_body(short_name),
        "request_id": f"floor-{short_name}",
        "account_email": accounts.account_email(payer=payer, project_short_name=short_name, environment="dev"),
        "account_name": accounts.account_name(payer=payer, project_short_name=short_name, environment="dev"),
        "payer_settings": accounts.payer_settings(name="demo"),
    }
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for wave in execution_order(tuple(plan.values())):
        for name in wave:
            step_started = time.perf_counter()
            context = StepContext(
                run_id="floor", step=name, attempt=1, inputs={**inputs, "step_params": plan[name].params}
            )
            inputs.update(functions[name](context))
            timings[name] = time.perf_counter() - step_started
    return time.perf_counter() - started, timings


def through_the_service(client: Client, token: str, short_names: list[str]) -> tuple[float, list[str]]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    started = time.perf_counter()
    locations = []
    for name in short_names:
        response = client.post("/v1/account-requests", request_body(name), content_type="application/json", **headers)
        assert response.status_code == 202, response.content
        locations.append(response["Location"])
    pending = set(locations)
    ids = [location.rsplit("/", 1)[1] for location in locations]
    while pending:
        for location in list(pending):
            status = client.get(location, **headers).json()["status"]
            if status == "failed":
                raise SystemExit(f"{location} failed: {client.get(location, **headers).json()['failure']}")
            if status == "succeeded":
                pending.discard(location)
        time.sleep(0.02)
    return time.perf_counter() - started, ids


def _where_time_goes(request_ids: list[str]) -> dict[str, tuple[float, int]]:
    """Median seconds per step from dispatch to outcome (queueing and retries included), and
    the most attempts any run needed."""
    per_step: dict[str, list[float]] = {}
    attempts: dict[str, int] = {}
    for step in StepRun.objects.filter(run__request_id__in=request_ids):
        if step.started_at and step.finished_at:
            per_step.setdefault(step.name, []).append((step.finished_at - step.started_at).total_seconds())
            attempts[step.name] = max(attempts.get(step.name, 0), step.attempts)
    return {name: (statistics.median(values), attempts[name]) for name, values in per_step.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument(
        "--lag",
        type=float,
        default=0.0,
        help="seconds added to every AWS call (AWS answers in tens of ms; the emulator in one)",
    )
    args = parser.parse_args()
    if args.lag:
        settings.AWS_FAULTS = f"*:*:lag={args.lag}"

    call_command("migrate", verbosity=0)
    # The emulator runs in its own process, as AWS would: its CPU is not this process's.
    with moto_server_process(free_port()) as emulator_url:
        settings.AWS_ENDPOINT_URL = emulator_url
        # Organizations allows one CreateAccount every 10 s after a burst of 3: with it, ten
        # accounts take over a minute whatever the design. The floor ignores it, so both do.
        settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 1000
        seed = seed_demo(var_dir=Path(settings.VAR_DIR))
        settings.ALLOWED_HOSTS = ["*"]
        client = Client()

        straight_line("warmup")  # imports, botocore models, moto's lazy backends
        floor_one, floor_steps = straight_line("floor1")
        floor_many = sum(straight_line(f"floorm{i}")[0] for i in range(args.accounts))

        with worker_threads(concurrency=args.workers):
            through_the_service(client, seed.token, ["warm"])
            one, one_ids = through_the_service(client, seed.token, ["one"])
            many, _ = through_the_service(client, seed.token, [f"many{i}" for i in range(args.accounts)])

    print(
        f"workers={args.workers} lag={args.lag * 1000:.0f}ms per AWS call "
        "(embedded mode: SQLite, in-process broker; moto_server in its own process)"
    )
    print(f"  floor, 1 account (straight line):       {floor_one:6.2f} s")
    print(f"  Bespoke, 1 account:                     {one:6.2f} s   ratio {one / floor_one:.2f}x the floor")
    print(f"  floor, {args.accounts} accounts one after another: {floor_many:6.2f} s")
    print(
        f"  Bespoke, {args.accounts} accounts at once:           {many:6.2f} s   "
        f"ratio {many / floor_many:.2f}x the floor"
    )
    service_steps = _where_time_goes(one_ids)
    print("  where the time goes (1 account): step, straight-line s, in Bespoke s (dispatch to outcome), attempts")
    for name, seconds in floor_steps.items():
        in_service, tries = service_steps.get(name, (float("nan"), 0))
        print(f"    {name:<15} {seconds:6.3f}  {in_service:6.3f}  {tries}")


if __name__ == "__main__":
    main()
