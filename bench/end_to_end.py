"""End to end: wall time from POST to ``succeeded`` for one account and for ten at once,
against the straight line — Bespoke's step functions called one after another, no
messaging — and the straight line against the raw-boto3 floor: the same AWS calls,
recorded from one vend and made again with plain boto3 clients (one per service, region
and account, no Django), all against the same emulator, in the same run. It also counts
what a vend spends besides its AWS calls: boto3 clients made (and the time it takes),
with the client cache on and off, and AssumeRole calls.

    .venv/bin/python bench/end_to_end.py [--workers 4] [--accounts 10] [--pairs 3] [--lag 0.05] [--show-calls]

Runs the embedded mode in this process (SQLite, the in-process broker with worker
threads, the demo payer and its blueprint) against moto's server in a process of its own
on a loopback port — its CPU is not ours, as with AWS.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
os.environ.setdefault("BESPOKE_VAR_DIR", tempfile.mkdtemp(prefix="bespoke-bench-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["API_RATE_LIMIT"] = "1000000/min"  # the client throttle is not what is measured

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.test import Client  # noqa: E402

from apps.accounts import api as accounts  # noqa: E402
from apps.cloud import api as cloud  # noqa: E402
from apps.cloud import cache  # noqa: E402
from apps.cloud.emulator import free_port  # noqa: E402
from apps.intake.models import AccountRequest  # noqa: E402
from apps.kernel import catalog  # noqa: E402
from apps.kernel.steps import StepContext  # noqa: E402
from apps.workflow.models import StepRun  # noqa: E402
from apps.workflow.plans import execution_order, plan_from_blueprint  # noqa: E402
from bench.raw_boto3 import Recording, recording, replay  # noqa: E402
from bench.support import moto_server_process, request_body  # noqa: E402
from tasks.demo import seed_demo  # noqa: E402
from tasks.embedded import worker_threads  # noqa: E402
from tasks.subscriptions import STEP_RUNNERS  # noqa: E402


def _step_functions() -> dict[str, Any]:
    """Every declared step's function (the step catalog)."""
    return {name: function for context in STEP_RUNNERS for name, function in catalog.runners(context).items()}


def straight_line(short_name: str, recorded: Recording | None = None) -> tuple[float, dict[str, float]]:
    """Every step of the demo blueprint called in order, in this thread (``recorded``:
    told which step makes the calls)."""
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
            if recorded is not None:
                recorded.step = name
            context = StepContext(
                run_id="floor", step=name, attempt=1, inputs={**inputs, "step_params": plan[name].params}
            )
            inputs.update(functions[name](context))
            timings[name] = time.perf_counter() - step_started
    return time.perf_counter() - started, timings


@dataclass
class Costs:
    """What vends spent besides their AWS calls."""

    clients: int = 0
    client_seconds: float = 0.0
    assume_role: int = 0
    keys: set[Hashable] = field(default_factory=set)  # (credentials, service, region) made

    @property
    def most_per_key(self) -> float:
        return self.clients / len(self.keys) if self.keys else 0.0


@contextmanager
def counting_costs() -> Iterator[Costs]:
    """Count client constructions (count, time, distinct credentials/service/region) and
    AssumeRole calls made meanwhile, from ``apps.cloud.cache``'s own counters and hooks."""
    costs = Costs()
    made_before, seconds_before = cache.constructions, cache.construction_seconds
    original_client, original_assumed = cache.client, cache.assumed

    def client(key: Hashable, make: Callable[[], Any], **kwargs: Any) -> Any:
        def counted() -> Any:
            costs.keys.add(key[:3] if isinstance(key, tuple) else key)
            return make()

        return original_client(key, counted, **kwargs)

    def assumed(key: Hashable, assume: Callable[[], cache.Assumed], **kwargs: Any) -> cache.Assumed:
        def counted() -> cache.Assumed:
            costs.assume_role += 1
            return assume()

        return original_assumed(key, counted, **kwargs)

    cache.client, cache.assumed = client, assumed  # type: ignore[assignment]
    try:
        yield costs
    finally:
        cache.client, cache.assumed = original_client, original_assumed  # type: ignore[assignment]
        costs.clients = cache.constructions - made_before
        costs.client_seconds = cache.construction_seconds - seconds_before


class StatementCount:
    """SQL statements executed meanwhile, on every connection of every thread."""

    def __init__(self) -> None:
        self.count = 0


_counting: list[StatementCount] = []
_counting_lock = threading.Lock()
_polling = threading.local()  # the client's status polls: not the service's statements


def _count_statement(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    if _counting and not getattr(_polling, "active", False):
        with _counting_lock:
            for counter in _counting:
                counter.count += 1
    return execute(sql, params, many, context)


def _install_counter(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """Every connection (the embedded mode opens one per task) counts into the counters
    active at the time; a connection object is reused by its thread, so once each."""
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)


connection_created.connect(_install_counter, weak=False)


@contextmanager
def counting_statements() -> Iterator[StatementCount]:
    counter = StatementCount()
    for existing in connections.all(initialized_only=True):
        _install_counter(connection=existing)
    with _counting_lock:
        _counting.append(counter)
    try:
        yield counter
    finally:
        with _counting_lock:
            _counting.remove(counter)


def through_the_service(client: Client, token: str, short_names: list[str]) -> tuple[float, list[str]]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    started = time.perf_counter()
    locations = []
    for name in short_names:
        response = client.post("/v1/account-requests", request_body(name), content_type="application/json", **headers)
        assert response.status_code == 202, response.content
        locations.append(response["Location"])
    ids = [location.rsplit("/", 1)[1] for location in locations]
    # A client polls from elsewhere: here one query for every pending request, so the
    # polling takes as little as it can of this process's CPU (the workers' threads).
    pending = set(ids)
    while pending:
        time.sleep(0.05)
        _polling.active = True
        try:
            statuses = list(AccountRequest.objects.filter(id__in=pending).values_list("id", "status"))
        finally:
            _polling.active = False
        for request_id, status in statuses:
            if status == "failed":
                detail = client.get(f"/v1/account-requests/{request_id}", **headers).json()
                raise SystemExit(f"{request_id} failed: {detail}")
            if status == "succeeded":
                pending.discard(str(request_id))
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
    parser.add_argument("--pairs", type=int, default=3, help="one-account runs, each after its straight line")
    parser.add_argument("--show-calls", action="store_true", help="print every AWS call of the recorded vend")
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
        # At most five creations in flight (an AWS quota the floor never reaches, one at a
        # time): a sixth asks again after ORGANIZATIONS_SLOT_RECHECK_SECONDS, 5 s — a tenth
        # of a real creation's minutes, a hundred times the emulator's instant. Scaled with it.
        settings.ORGANIZATIONS_SLOT_RECHECK_SECONDS = 0.25
        seed = seed_demo(var_dir=Path(settings.VAR_DIR))
        settings.ALLOWED_HOSTS = ["*"]
        client = Client()

        straight_line("warmup")  # imports, botocore models, moto's lazy backends
        base = cloud.base_session().get_credentials().get_frozen_credentials()
        cache.forget()  # so the recorded vend assumes every role it uses
        with recording(base.access_key) as recorded:
            straight_line("recorded", recorded)

        # The emulator slows as its state grows (accounts, assumed roles): the raw floor runs
        # right after the straight line it is compared with, the cache-off vend (21
        # AssumeRole calls) after every other.
        with counting_costs() as cached:
            floor_one, floor_steps = straight_line("floor1")
        raw = replay(
            recorded.calls,
            endpoint_url=emulator_url,
            base_credentials={
                "aws_access_key_id": base.access_key,
                "aws_secret_access_key": base.secret_key,
                **({"aws_session_token": base.token} if base.token else {}),
            },
            lag=args.lag,
            unique="-raw",
        )
        # Each Bespoke run is compared with straight lines run right before it, against the
        # emulator in the same state (it slows as accounts pile up): one account --pairs
        # times (medians), then ten. The workers run only while Bespoke is measured.
        straight_ones: list[float] = []
        service_ones: list[float] = []
        cpu_straight: list[float] = []
        cpu_service: list[float] = []
        clients_service: list[int] = []
        clients_straight: list[int] = []
        statements_straight: list[int] = []
        statements_service: list[int] = []
        for pair in range(args.pairs):
            cpu, made = time.process_time(), cache.constructions
            with counting_statements() as statements:
                straight, floor_steps = straight_line(f"floorp{pair}")
            cpu_straight.append(time.process_time() - cpu)
            clients_straight.append(cache.constructions - made)
            statements_straight.append(statements.count)
            with worker_threads(concurrency=args.workers):
                if pair == 0:
                    through_the_service(client, seed.token, ["warm"])
                cpu, made = time.process_time(), cache.constructions
                with counting_statements() as statements:
                    seconds, one_ids = through_the_service(client, seed.token, [f"one{pair}"])
                cpu_service.append(time.process_time() - cpu)
                clients_service.append(cache.constructions - made)
                statements_service.append(statements.count)
            straight_ones.append(straight)
            service_ones.append(seconds)
        floor_many = sum(straight_line(f"floorm{i}")[0] for i in range(args.accounts))
        with worker_threads(concurrency=args.workers):
            many, _ = through_the_service(client, seed.token, [f"many{i}" for i in range(args.accounts)])

        settings.AWS_CLIENT_CACHE = False
        with counting_costs() as uncached:
            floor_uncached, _ = straight_line("uncached")
        settings.AWS_CLIENT_CACHE = True

    print(
        f"workers={args.workers} lag={args.lag * 1000:.0f}ms per AWS call "
        "(embedded mode: SQLite, in-process broker; moto_server in its own process)"
    )
    print(f"  AWS calls per vend (recorded): {len(recorded.calls)}; replayed {raw.calls}, failed {len(raw.failed)}")
    for seconds, name in sorted(raw.per_call, reverse=True)[:8]:
        print(f"    slowest raw: {seconds:.3f} {name}")
    for failure in raw.failed:
        print(f"    failed: {failure}")
    print(
        f"  raw boto3, 1 account (same calls):      {raw.seconds:6.2f} s   "
        f"({raw.clients_made} clients on the clock, {raw.client_seconds:.3f} s)"
    )
    print(
        f"  straight line, 1 account:               {floor_one:6.2f} s   "
        f"ratio {floor_one / raw.seconds:.2f}x raw (goal <= 1.3)"
    )
    pairs = ", ".join(f"{one / straight:.2f}" for straight, one in zip(straight_ones, service_ones, strict=True))
    straight_median, one = statistics.median(straight_ones), statistics.median(service_ones)
    print(
        f"  Bespoke, 1 account:                     {one:6.2f} s   "
        f"ratio {one / straight_median:.2f}x straight line (goal <= 1.0; medians of {args.pairs} pairs,"
        f" each straight line right before: {straight_median:.2f} s; pair by pair {pairs})"
    )
    print(
        f"    CPU of this process per vend (medians): straight line {statistics.median(cpu_straight):.2f} s, "
        f"Bespoke {statistics.median(cpu_service):.2f} s (workers, broker, outbox, polling); clients made:"
        f" straight line {clients_straight}, Bespoke {clients_service}"
    )
    print(
        f"    SQL statements per vend: straight line {statements_straight} (the steps' own), Bespoke"
        f" {statements_service} (intake, messaging, leases, run and task status; the client's polling excluded)"
    )
    print(f"  straight line, {args.accounts} accounts one after another: {floor_many:6.2f} s")
    goal = "0.3" if args.lag else "1.0"
    print(
        f"  Bespoke, {args.accounts} accounts at once:           {many:6.2f} s   "
        f"ratio {many / floor_many:.2f}x in a row (goal <= {goal})"
    )
    print("  per vend (straight line): clients made, seconds making them (share of the vend), AssumeRole calls")
    for label, costs, seconds in (("cache on ", cached, floor_one), ("cache off", uncached, floor_uncached)):
        print(
            f"    {label}: {costs.clients:3d} clients for {len(costs.keys):2d} credentials/service/region "
            f"({costs.most_per_key:.1f} each), {costs.client_seconds:.3f} s ({costs.client_seconds / seconds:.1%} "
            f"of {seconds:.2f} s), {costs.assume_role} AssumeRole"
        )
    print("  AWS calls per operation in one vend (more than one):")
    for operation, count in recorded.per_operation().most_common():
        if count > 1:
            print(f"    {count:3d} {operation}")
    if args.show_calls:
        for call in recorded.calls:
            where = f"{call.principal[:40]:<40} {call.region}"
            print(f"    {call.step:<15} {where} {call.service}:{call.operation} {call.error or ''}")
    service_steps = _where_time_goes(one_ids)
    print("  where the time goes (1 account): step, straight-line s, in Bespoke s (dispatch to outcome), attempts")
    for name, seconds in floor_steps.items():
        in_service, tries = service_steps.get(name, (float("nan"), 0))
        print(f"    {name:<15} {seconds:6.3f}  {in_service:6.3f}  {tries}")


if __name__ == "__main__":
    main()
