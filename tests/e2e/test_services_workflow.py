"""The complete workflow in services mode: the demo payer's blueprints run every baseline
and network step through real Celery workers, and the outcome reaches email and webhooks
exactly once."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from apps.network.models import Allocation
from apps.notifications.api import verify_signature
from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import output_of
from tests.support.services import need_postgres, need_redis
from tests.support.stack import celery_worker, flush, gunicorn, services_environment
from tests.support.webhooks import Receiver, webhook_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]

# The steps that wait only for the account (the guardrail steps among them).
PARALLEL = (
    "ou_placement",
    "account_hygiene",
    "security_services",
    "budget",
    "iam",
    "cloudtrail",
    "config",
    "support",
    "vpc",
)


def _finish(base: str, location: str, headers: dict[str, str], worker: Any) -> dict[str, Any]:
    try:
        return dict(
            wait_for(
                lambda: requests.get(location, headers=headers, timeout=10).json(),
                until=lambda body: body["status"] in ("succeeded", "failed"),
                timeout=120,
                interval=0.5,
            )
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- worker ---\n{output_of(worker)}") from None


def _events(receiver: Receiver, kind: str, request_id: str) -> list[dict[str, Any]]:
    bodies = [json.loads(r.body) for r in receiver.requests]
    return [b for b in bodies if b["type"] == kind and b["data"].get("request_id") == request_id]


def _emails_about(text: str) -> list[Any]:
    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if text in str(m.body)]


def _step_intervals(worker_log: str, run_id: str) -> dict[str, tuple[datetime, datetime]]:
    """When each step really ran in the workers (from their JSON logs), not when it was dispatched."""
    starts: dict[str, datetime] = {}
    ends: dict[str, datetime] = {}
    for line in worker_log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("run_id") != run_id:
            continue
        moment = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        if entry["event"] == "step.started":
            starts[entry["step"]] = moment
        elif entry["event"] in ("step.succeeded", "step.failed"):
            ends[entry["step"]] = moment
    return {step: (starts[step], ends[step]) for step in starts if step in ends}


@pytest.fixture
def stack_prerequisites(aws: EmulatedAws, tmp_path: Path) -> tuple[str, str]:
    need_postgres()
    redis_url = need_redis()
    flush(redis_url)
    seed = seed_demo(var_dir=tmp_path)
    return redis_url, seed.token


def test_standard_and_regulated_requests_succeed_and_notify_once(
    aws: EmulatedAws, stack_prerequisites: tuple[str, str]
) -> None:
    redis_url, token = stack_prerequisites
    env = services_environment(aws_url=aws.url, redis_url=redis_url)
    headers = {"Authorization": f"Bearer {token}"}
    with webhook_receiver() as receiver, celery_worker(env, concurrency=2) as worker, gunicorn(env) as web:
        hook = requests.post(f"{web.base}/v1/webhooks", json={"url": receiver.url}, headers=headers, timeout=10)
        assert hook.status_code == 201, hook.text
        standard = requests.post(f"{web.base}/v1/account-requests", json=request_body(), headers=headers, timeout=10)
        regulated = requests.post(
            f"{web.base}/v1/account-requests",
            json=request_body(regulated=True, tags__project_short_name="audit"),
            headers=headers,
            timeout=10,
        )
        results = {
            "standard": _finish(web.base, standard.headers["Location"], headers, worker),
            "regulated": _finish(web.base, regulated.headers["Location"], headers, worker),
        }
        ids = {name: result["id"] for name, result in results.items()}
        wait_for(
            lambda: all(_events(receiver, "run.succeeded", request_id) for request_id in ids.values()),
            until=bool,
            timeout=30,
        )
        worker_log = output_of(worker, tail=None)

    for name, result in results.items():
        assert result["status"] == "succeeded", (name, result)
        assert {step["state"] for step in result["steps"]} == {"succeeded"}, (name, result["steps"])
        account_id = result["account"]["id"]
        assert len(_emails_about(account_id)) == 1, name
        for kind in ("run.started", "run.succeeded"):
            assert len(_events(receiver, kind, result["id"])) == 1, (name, kind)
        assert len(_events(receiver, "step.succeeded", result["id"])) == len(result["steps"])
    secret = hook.json()["secret"]
    assert all(verify_signature(secret, r.headers["bespoke-signature"], r.body) for r in receiver.requests)

    config_rules = {s["name"]: s["outputs"] for s in results["regulated"]["steps"]}["config"]["config_rules"]
    standard_rules = {s["name"]: s["outputs"] for s in results["standard"]["steps"]}["config"]["config_rules"]
    assert set(standard_rules) < set(config_rules)  # the regulated account has more rules
    cidrs = {name: {s["name"]: s["outputs"] for s in r["steps"]}["vpc"]["cidr"] for name, r in results.items()}
    assert sorted(cidrs.values()) == ["10.64.0.0/24", "10.64.1.0/24"]

    # Two workers ran independent steps of one run at the same time.
    intervals = _step_intervals(worker_log, results["standard"]["run"]["id"])
    parallel = [intervals[name] for name in PARALLEL if name in intervals]
    assert len(parallel) == len(PARALLEL), intervals
    overlapping = [(a, b) for a in parallel for b in parallel if a is not b and a[0] < b[1] and b[0] < a[1]]
    assert overlapping, intervals
    # Dependents waited for what they depend on.
    assert intervals["flow_logs"][0] >= intervals["vpc"][1]
    assert intervals["verify"][0] >= max(end for _, end in intervals.values() if _ is not intervals["verify"][0])


def test_a_failing_vpc_step_fails_the_run_releases_the_cidr_and_says_why(
    aws: EmulatedAws, stack_prerequisites: tuple[str, str]
) -> None:
    redis_url, token = stack_prerequisites
    # The VPC and its subnets get made, then AWS refuses the internet gateway.
    faults = "ec2:CreateInternetGateway:AccessDenied"
    env = services_environment(aws_url=aws.url, redis_url=redis_url, AWS_FAULTS=faults)
    headers = {"Authorization": f"Bearer {token}"}
    with webhook_receiver() as receiver, celery_worker(env, concurrency=2) as worker, gunicorn(env) as web:
        requests.post(f"{web.base}/v1/webhooks", json={"url": receiver.url}, headers=headers, timeout=10)
        accepted = requests.post(f"{web.base}/v1/account-requests", json=request_body(), headers=headers, timeout=10)
        result = _finish(web.base, accepted.headers["Location"], headers, worker)
        wait_for(lambda: _events(receiver, "run.failed", result["id"]), until=bool, timeout=30)
        wait_for(lambda: _emails_about("AccessDenied"), until=bool, timeout=30)

    assert result["status"] == "failed"
    assert result["failure"].startswith("vpc: ")
    assert "AccessDenied" in result["failure"]
    vpc = {s["name"]: s for s in result["steps"]}["vpc"]
    assert (vpc["state"], vpc["attempts"]) == ("failed", 1)  # permanent: not retried
    assert {s["name"]: s["state"] for s in result["steps"]}["verify"] == "skipped"
    allocation = Allocation.objects.get(request_id=result["id"])
    assert allocation.state == "released"
    [failed_event] = _events(receiver, "run.failed", result["id"])
    assert failed_event["data"]["step"] == "vpc"
    [email] = _emails_about("AccessDenied")
    assert "vpc" in str(email.body)
