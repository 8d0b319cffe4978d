"""The cost of metrics and tracing: the intake path (``POST /v1/account-requests``:
authentication, validation, insert, outbox) and one step (``execute_step``: inbox, lease,
one AWS call, the outcome through the outbox), each timed with metrics and tracing off,
metrics alone, tracing alone, both, and tracing with sampling (``sampled``: a share
``--sample-ratio`` of the traces recorded), IN THE SAME RUN, the modes taking turns one
operation at a time (so drift of the machine falls on every mode alike), in one process
against PostgreSQL and moto.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_obs \\
        .venv/bin/python bench/observability.py [--rounds 25] [--batch 40] [--sample-ratio 0.1]

Tracing on means the real SDK path — a tracer provider with the default sampling (every
trace recorded), spans, the batch processor — with an exporter that drops the spans (the
network is not what is measured). Metrics on is the Prometheus exporter (in-process
registry). Prints the median time per request and per step for each mode, and its ratio
to both off; the goal is < 5 % for each.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_obs")
os.environ["LOG_LEVEL"] = "WARNING"
os.environ["API_RATE_LIMIT"] = "1000000/min"  # the client throttle is not what is measured

MODES = ("off", "metrics", "tracing", "both", "sampled")


def _tracer_provider(sample_ratio: float = 1.0) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    from apps.kernel import tracing

    provider = TracerProvider(sampler=tracing.sampler(sample_ratio))  # as TRACING_SAMPLE_RATIO makes it
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    return provider


def _set_mode(mode: str, providers: dict[str, Any]) -> None:
    from django.conf import settings

    from apps.kernel import tracing

    settings.METRICS_EXPORTER = "prometheus" if mode in ("metrics", "both") else "off"
    traced = mode in ("tracing", "both", "sampled")
    tracing.use(providers["sampled" if mode == "sampled" else "all"] if traced else None)


def _timed(batch: int, work: Callable[[int], None], counter: itertools.count[int]) -> float:
    """Seconds per operation over ``batch`` operations."""
    started = time.perf_counter()
    for _ in range(batch):
        work(next(counter))
    return (time.perf_counter() - started) / batch


def _intake(token: str) -> Callable[[int], None]:
    from rest_framework.test import APIClient

    from apps.intake.rest.views import EXAMPLE_BODY

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(number: int) -> None:
        body = {**EXAMPLE_BODY, "external_transaction_id": f"RITM{number:08d}"}
        body["tags"] = {**EXAMPLE_BODY["tags"], "project_short_name": f"b{number:x}"[-8:]}
        answer = client.post("/v1/account-requests", body, format="json")
        if answer.status_code != 202:
            raise SystemExit(f"POST answered {answer.status_code}: {answer.content[:300]!r}")

    return post


def _step() -> Callable[[int], None]:
    from apps.cloud import api as cloud
    from apps.kernel.contracts import RunStep
    from apps.kernel.steps import StepContext, execute_step

    def probe(context: StepContext) -> dict[str, Any]:
        roles = cloud.client("iam").list_roles(MaxItems=1)["Roles"]
        return {"roles": len(roles)}

    def run(number: int) -> None:
        command = RunStep(run_id=f"run-{number}", step="probe", context="bench")
        outcome = execute_step(command, {"probe": probe}, attempt=1, retry_delay=None)
        if outcome is None or outcome.type_name() != "StepSucceeded":
            raise SystemExit(f"The step did not succeed: {outcome!r}")

    return run


def _report(title: str, samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["off"])
    print(f"\n{title}")
    print("| mode | median per operation | ratio to off |")
    print("| --- | --- | --- |")
    for mode in MODES:
        median = statistics.median(samples[mode])
        print(f"| {mode} | {median * 1000:.3f} ms | {median / base:.3f}x ({(median / base - 1) * 100:+.1f} %) |")


def _hooks_when_off(times: int = 200_000) -> float:
    """Nanoseconds one disabled span costs (the ``with`` block, the carrier, the log
    processor's lookup): the price of the hooks when ``TRACING_EXPORTER=off``."""
    from apps.kernel import tracing

    tracing.use(None)
    started = time.perf_counter()
    for _ in range(times):
        with tracing.span("off"):
            tracing.carrier()
            tracing.current_ids()
    return (time.perf_counter() - started) / times * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--sample-ratio", type=float, default=0.1, help="the share of traces the sampled mode records")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment
    from moto import mock_aws

    from apps.accounts import api as accounts
    from apps.clients import api as clients
    from apps.kernel import outbox

    setup_test_environment()
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with mock_aws():
            from django.conf import settings

            settings.AWS_ENDPOINT_URL = None  # moto answers in process
            outbox.set_publisher(None)  # what is measured ends at the outbox row
            accounts.payer_upsert(
                name="demo",
                management_account_id="123456789012",
                email_division="demo",
                email_domain="example.com",
                allowed_environments=["dev"],
                allowed_regions=["us-east-1"],
            )
            token = clients.client_create(name="bench", scopes=list(clients.ALL_SCOPES), all_payers=True).token
            providers = {"all": _tracer_provider(), "sampled": _tracer_provider(args.sample_ratio)}
            counter = itertools.count(1)
            paths = {"intake": _intake(token), "step": _step()}
            for path in paths.values():  # warm up every mode (imports, caches, the moto backend)
                for mode in MODES:
                    _set_mode(mode, providers)
                    _timed(5, path, counter)
            samples: dict[str, dict[str, list[float]]] = {name: {mode: [] for mode in MODES} for name in paths}
            for _ in range(args.rounds):
                for name, path in paths.items():
                    for _ in range(args.batch):
                        # Every mode in turn, one operation each, in a fresh order each
                        # time: drift (tables growing, neighbours' load) falls on all alike.
                        for mode in random.sample(MODES, len(MODES)):
                            _set_mode(mode, providers)
                            samples[name][mode].append(_timed(1, path, counter))
            _set_mode("off", providers)
            for provider in providers.values():
                provider.shutdown()
        print(f"{args.rounds * args.batch} operations per mode and path, the modes interleaved one by one")
        print(f"sampled: tracing on, {args.sample_ratio:g} of the traces recorded")
        print(f"tracing off: one step's hooks (span, carrier, log lookup) cost {_hooks_when_off():.0f} ns")
        _report("Intake: POST /v1/account-requests (accepted)", samples["intake"])
        _report("One step: execute_step with one AWS call (moto)", samples["step"])
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)


if __name__ == "__main__":
    main()
