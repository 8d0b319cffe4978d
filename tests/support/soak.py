"""A soak of the services mode: account requests posted over a window while AWS injects
faults and a worker is killed with SIGKILL (and replaced) every so often; then what must
hold is counted — every request succeeded, one account each in the Organization, no CIDR
allocated twice or left behind, no email or webhook sent twice, never more than the
creation limit in flight. ``bench/soak.py`` and ``tests/e2e/test_soak.py`` both run it.

The caller configures Django for the database the stack uses (the processes started here
read it from ``test_database_url()``) and points ``settings.AWS_ENDPOINT_URL`` at moto's
server, where the demo organization is seeded (``tasks.demo.seed_demo``)."""

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import requests

from apps.accounts import api as accounts
from apps.cloud import api as cloud
from apps.network.models import Allocation
from apps.notifications.models import EmailNotification
from tests.support.factories import request_body
from tests.support.processes import BIN, output_of, running
from tests.support.stack import celery_worker, gunicorn, services_environment
from tests.support.webhooks import Receiver, webhook_receiver

# Organizations throttles a fifth of its calls; one call in twenty of any service fails with a 500.
SOAK_FAULTS = "organizations:*:TooManyRequestsException:0.2,*:*:InternalError:0.05"


def soak_environment(*, aws_url: str, redis_url: str, faults: str, var_dir: Path) -> dict[str, str]:
    """The services mode's environment, with the periodic sweepers on short intervals so a
    killed worker's step is sent again within seconds rather than minutes."""
    return services_environment(
        aws_url=aws_url,
        redis_url=redis_url,
        AWS_FAULTS=faults,
        BESPOKE_VAR_DIR=str(var_dir),
        # CreateAccount's rate lifted (as in bench/end_to_end.py); the five-in-flight limit stays.
        ORGANIZATIONS_CREATE_ACCOUNT_BURST="1000",
        ORGANIZATIONS_SLOT_RECHECK_SECONDS="0.5",
        OUTBOX_SWEEP_AFTER_SECONDS="5",
        OUTBOX_SWEEP_INTERVAL_SECONDS="5",
        STUCK_SWEEP_INTERVAL_SECONDS="5",
        STEP_DEADLINE_SECONDS="30",
        STEP_LEASE_RECHECK_SECONDS="1",
        STEP_MAX_REDISPATCHES="20",
        # What a killed worker had taken and not yet handled (an AccountRequested: no run to
        # sweep yet) comes back within a minute, not an hour.
        BROKER_VISIBILITY_TIMEOUT="45",
    )


@dataclass
class SoakResult:
    requested: int
    statuses: dict[str, int]
    accounts_created: int  # accounts of these requests in the Organization
    accounts_per_request_max: int
    cidrs_allocated_twice: int
    cidrs_leaked: int
    emails_expected: int  # recipients of the one notification per request
    emails_sent: int  # recipients SES was asked to send to
    webhooks_duplicated: int  # deliveries received more than once, and run.succeeded events per request > 1
    run_succeeded_webhooks: int
    peak_in_flight: int
    kills: int
    seconds: float
    failures: list[Any] = field(default_factory=list)

    def problems(self, *, limit: int) -> list[str]:
        """What does not hold, in words (empty when all of it does)."""
        found = []
        if self.statuses != {"succeeded": self.requested}:
            found.append(f"statuses {self.statuses}, failures {self.failures[:3]}")
        if self.accounts_created != self.requested or self.accounts_per_request_max != 1:
            found.append(f"{self.accounts_created} accounts (at most {self.accounts_per_request_max} per request)")
        if self.cidrs_allocated_twice or self.cidrs_leaked:
            found.append(f"CIDRs allocated twice {self.cidrs_allocated_twice}, leaked {self.cidrs_leaked}")
        if self.emails_sent != self.emails_expected:
            found.append(f"{self.emails_sent} email recipients sent to, {self.emails_expected} expected")
        if self.webhooks_duplicated or self.run_succeeded_webhooks != self.requested:
            found.append(f"{self.run_succeeded_webhooks} run.succeeded webhooks, {self.webhooks_duplicated} duplicated")
        if self.peak_in_flight > limit:
            found.append(f"{self.peak_in_flight} creations in flight at once (limit {limit})")
        return found

    def lines(self) -> list[str]:
        return [
            f"requests {self.requested}: {self.statuses} in {self.seconds:.1f} s, {self.kills} workers killed",
            f"accounts in the Organization: {self.accounts_created} (most per request {self.accounts_per_request_max})",
            f"CIDRs allocated twice: {self.cidrs_allocated_twice}, leaked: {self.cidrs_leaked}",
            f"emails: {self.emails_sent} recipients sent to, {self.emails_expected} expected (one per request)",
            f"webhooks: {self.run_succeeded_webhooks} run.succeeded, {self.webhooks_duplicated} sent twice",
            f"peak creations in flight: {self.peak_in_flight}",
        ]


class _Workers:
    """Celery workers in processes of their own; ``kill_one`` SIGKILLs the oldest (its pool
    processes too) and starts a replacement."""

    def __init__(self, stack: ExitStack, env: dict[str, str], *, count: int, concurrency: int) -> None:
        self._stack, self._env, self._concurrency = stack, env, concurrency
        self._started = 0
        self.kills = 0
        self.live: list[Popen[bytes]] = [self._start() for _ in range(count)]

    def _start(self) -> Popen[bytes]:
        self._started += 1
        name = f"soak-worker-{self._started}"
        return self._stack.enter_context(celery_worker(self._env, concurrency=self._concurrency, name=name))

    def assert_running(self) -> None:
        """A worker that exited on its own (one killed here has left ``live`` first) fails
        the soak at once, with its output: its requests would only wait out the deadline."""
        for worker in list(self.live):
            if worker.poll() is not None:
                raise AssertionError(f"A Celery worker exited with {worker.returncode}:\n{output_of(worker)}")

    def kill_one(self) -> None:
        doomed = self.live.pop(0)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
        self.kills += 1
        self.live.append(self._start())


@contextmanager
def _killing(workers: _Workers, *, every: float, most: int | None) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every) and (most is None or workers.kills < most):
            workers.kill_one()

    killer = threading.Thread(target=loop, name="soak-killer", daemon=True)
    killer.start()
    try:
        yield
    finally:
        stop.set()
        killer.join(timeout=60)


def _org_accounts(emails: set[str]) -> Counter[str]:
    organizations = cloud.client("organizations")
    found: Counter[str] = Counter()
    for page in organizations.get_paginator("list_accounts").paginate():
        found.update(a["Email"] for a in page["Accounts"] if a["Email"] in emails)
    return found


def _emails_sent() -> int:
    return int(cloud.client("ses").get_send_quota()["SentLast24Hours"])


def _wait_all(
    base: str, locations: list[str], headers: dict[str, str], *, timeout: float, workers: _Workers
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(locations) and time.monotonic() < deadline:
        workers.assert_running()
        for location in locations:
            if location in done:
                continue
            answer = requests.get(location, headers=headers, timeout=30)
            if answer.status_code != 200:
                # Not the request (polling a hundred of them a second can reach the client's
                # API_RATE_LIMIT): ask again after the time the answer says, or a second.
                time.sleep(float(answer.headers.get("Retry-After") or 1))
                continue
            body = answer.json()
            if body["status"] in ("succeeded", "failed"):
                done[location] = body
        time.sleep(1)
    return [done.get(location) or requests.get(location, headers=headers, timeout=30).json() for location in locations]


def _webhook_counts(receiver: Receiver, request_ids: set[str]) -> tuple[int, int]:
    """(run.succeeded events for these requests, deliveries or run events received twice)."""
    deliveries = Counter(r.headers.get("bespoke-delivery") for r in receiver.requests)
    runs: Counter[str] = Counter()
    for received in receiver.requests:
        body = json.loads(received.body)
        if body["type"] == "run.succeeded" and body["data"].get("request_id") in request_ids:
            runs[body["data"]["request_id"]] += 1
    twice = sum(1 for n in deliveries.values() if n > 1) + sum(1 for n in runs.values() if n > 1)
    return len(runs), twice


@dataclass
class SoakStack:
    """gunicorn, Celery workers and beat on ``env``, and a webhook receiver subscribed."""

    env: dict[str, str]
    base: str
    headers: dict[str, str]
    receiver: Receiver
    workers: _Workers


@contextmanager
def soak_stack(env: dict[str, str], *, token: str, workers: int = 2, concurrency: int = 2) -> Iterator[SoakStack]:
    headers = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        receiver = stack.enter_context(webhook_receiver())
        web = stack.enter_context(gunicorn(env))
        beat_schedule = Path(env["BESPOKE_VAR_DIR"]) / "celerybeat-schedule"
        beat = [str(BIN / "celery"), "-A", "project.celery:app", "beat", "--schedule", str(beat_schedule)]
        stack.enter_context(running(beat, env=env, name="soak-beat"))
        pool = _Workers(stack, env, count=workers, concurrency=concurrency)
        hook = requests.post(f"{web.base}/v1/webhooks", json={"url": receiver.url}, headers=headers, timeout=30)
        assert hook.status_code == 201, hook.text
        yield SoakStack(env=env, base=web.base, headers=headers, receiver=receiver, workers=pool)


def soak(
    stack: SoakStack,
    short_names: list[str],
    *,
    window: float,
    kill_every: float | None,
    kills: int | None = None,
    timeout: float = 1800,
) -> SoakResult:
    """Post a request per short name, evenly over ``window`` seconds, killing a worker every
    ``kill_every`` seconds (at most ``kills`` times); wait for every outcome and count."""
    payer = accounts.payer_get(name="demo")
    assert payer is not None
    emails = {accounts.account_email(payer=payer, project_short_name=name, environment="dev") for name in short_names}
    sent_before = _emails_sent()
    kills_before = stack.workers.kills
    started = time.perf_counter()
    locations = []
    with ExitStack() as killing:
        if kill_every is not None:
            killing.enter_context(_killing(stack.workers, every=kill_every, most=kills))
        for index, name in enumerate(short_names):
            time.sleep(max(0.0, started + index * window / len(short_names) - time.perf_counter()))
            accepted = requests.post(
                f"{stack.base}/v1/account-requests",
                json=request_body(tags__project_short_name=name),
                headers=stack.headers,
                timeout=60,
            )
            assert accepted.status_code == 202, accepted.text
            locations.append(accepted.headers["Location"])
        results = _wait_all(stack.base, locations, stack.headers, timeout=timeout, workers=stack.workers)
        seconds = time.perf_counter() - started
    request_ids = {r["id"] for r in results}
    # Webhooks and emails follow the outcome: give them a moment to arrive.
    deadline = time.monotonic() + 60
    while _webhook_counts(stack.receiver, request_ids)[0] < len(request_ids) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # a late duplicate, if any, is counted too
    created = _org_accounts(emails)
    used = Counter(
        step["outputs"].get("cidr")
        for r in results
        for step in r.get("steps", [])
        if r["status"] == "succeeded" and step["name"] == "vpc"
    )
    live = Counter(
        Allocation.objects.filter(request_id__in=request_ids, state=Allocation.State.ALLOCATED).values_list(
            "cidr", flat=True
        )
    )
    notifications = EmailNotification.objects.filter(request_id__in=request_ids)
    runs, twice = _webhook_counts(stack.receiver, request_ids)
    statuses = Counter(r["status"] for r in results)
    return SoakResult(
        requested=len(short_names),
        statuses=dict(statuses),
        accounts_created=sum(created.values()),
        accounts_per_request_max=max(created.values(), default=0),
        cidrs_allocated_twice=sum(1 for n in live.values() if n > 1) + sum(1 for n in used.values() if n > 1),
        cidrs_leaked=len(set(live) - set(used)),
        emails_expected=sum(len(n.recipients) for n in notifications if n.sent_at),
        emails_sent=_emails_sent() - sent_before,
        webhooks_duplicated=twice,
        run_succeeded_webhooks=runs,
        peak_in_flight=accounts.creations_in_flight_peak(),
        kills=stack.workers.kills - kills_before,
        seconds=seconds,
        failures=[r.get("failure") for r in results if r["status"] != "succeeded"],
    )
