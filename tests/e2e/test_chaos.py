"""Proof under faults, in services mode (gunicorn, real celery workers, PostgreSQL, a Redis
of the test's own, moto's server): nothing accepted is lost, and a run whose worker is
killed mid-step finishes with exactly one of each resource."""

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.kernel.models import OutboxMessage
from apps.workflow.models import StepRun
from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import BIN, ROOT, output_of
from tests.support.redis_server import own_redis
from tests.support.services import need_postgres
from tests.support.stack import celery_worker, gunicorn, services_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]

# Fast quotas, so several accounts don't queue for minutes (the quota itself is proven elsewhere).
FAST_QUOTAS = {"ORGANIZATIONS_CREATE_ACCOUNT_RATE": "5", "ORGANIZATIONS_CREATE_ACCOUNT_BURST": "20"}


def periodic(env: dict[str, str], *jobs: str) -> str:
    """Run periodic jobs once, as Celery beat would, in a process of the services mode."""
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", "periodic", *jobs],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def finished(location: str, headers: dict[str, str], *, timeout: float = 90) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: requests.get(location, headers=headers, timeout=10).json(),
            until=lambda body: body["status"] in ("succeeded", "failed"),
            timeout=timeout,
            interval=0.5,
        )
    )


def test_requests_accepted_while_redis_is_down_all_complete_once_it_is_back(demo_payer: Any, aws: EmulatedAws) -> None:
    need_postgres()
    token = clients.client_create(name="chaos-redis", scopes=list(clients.ALL_SCOPES), all_payers=True).token
    headers = {"Authorization": f"Bearer {token}"}
    with own_redis() as broker:
        env = services_environment(aws_url=aws.url, redis_url=broker.url, OUTBOX_SWEEP_AFTER_SECONDS="0", **FAST_QUOTAS)
        with celery_worker(env) as worker, gunicorn(env) as web:
            broker.stop()
            accepted = [
                requests.post(
                    f"{web.base}/v1/account-requests",
                    json=request_body(tags__project_short_name=f"outage{i}"),
                    headers=headers,
                    timeout=30,
                )
                for i in range(5)
            ]
            assert [r.status_code for r in accepted] == [202] * 5, [r.text for r in accepted]
            # Stored, and waiting in the outbox: the broker took none of them.
            assert OutboxMessage.objects.filter(type="AccountRequested", published_at__isnull=True).count() == 5

            broker.start()
            periodic(env, "outbox.sweep")
            try:
                results = [finished(r.headers["Location"], headers) for r in accepted]
            except AssertionError as error:
                raise AssertionError(f"{error}\n--- worker ---\n{output_of(worker)}") from None

    assert [r["status"] for r in results] == ["succeeded"] * 5, results
    emails = {a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert {f"aws.demo.outage{i}.dev@example.com" for i in range(5)} <= emails
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def _member_inventory(aws: EmulatedAws, account_id: str) -> dict[str, int]:
    ec2 = aws.member_client("ec2", account_id=account_id)
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    nat_gateways = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")]
    roles = [
        r
        for r in aws.member_client("iam", account_id=account_id).list_roles()["Roles"]
        if r["RoleName"].startswith("bespoke-")
    ]
    return {
        "vpcs": len(vpcs),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "internet_gateways": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "nat_gateways": len(nat_gateways),
        "roles": len(roles),
        "trails": len(aws.member_client("cloudtrail", account_id=account_id).describe_trails()["trailList"]),
        "zones": len(aws.member_client("route53", account_id=account_id).list_hosted_zones()["HostedZones"]),
    }


def test_a_worker_killed_mid_step_is_replaced_and_the_run_converges(aws: EmulatedAws, tmp_path: Path) -> None:
    need_postgres()
    seed = seed_demo(var_dir=tmp_path)
    headers = {"Authorization": f"Bearer {seed.token}"}
    with own_redis() as broker:
        # Slow EC2 down so the vpc step is still running when its worker dies.
        slow = services_environment(aws_url=aws.url, redis_url=broker.url, AWS_FAULTS="ec2:*:lag=0.25")
        env = services_environment(aws_url=aws.url, redis_url=broker.url, STEP_DEADLINE_SECONDS="2")
        with gunicorn(env) as web:
            with celery_worker(slow, name="doomed-worker") as doomed:
                accepted = requests.post(
                    f"{web.base}/v1/account-requests", json=request_body(), headers=headers, timeout=10
                )
                assert accepted.status_code == 202
                wait_for(
                    lambda: [
                        line
                        for line in output_of(doomed, tail=None).splitlines()
                        if line.startswith("{")
                        and json.loads(line).get("event") == "step.started"
                        and json.loads(line).get("step") == "vpc"
                    ],
                    until=bool,
                    timeout=60,
                )
                os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool processes, mid-step
                doomed.wait(timeout=10)
            assert StepRun.objects.get(run__request_id=accepted.json()["id"], name="vpc").state == "running"

            with celery_worker(env, name="new-worker") as replacement:
                # Nothing will finish the killed step's message: the stuck-run sweeper sends it again
                # once the step has made no progress for its deadline. (A sweep can resend other
                # steps the killed worker had taken first: it runs until it has resent vpc.)
                def vpc_redispatches() -> int:
                    periodic(env, "workflow.sweep_stuck")
                    return StepRun.objects.get(run__request_id=accepted.json()["id"], name="vpc").redispatches

                wait_for(vpc_redispatches, until=lambda count: count >= 1, timeout=30, interval=0.5)
                try:
                    result = finished(accepted.headers["Location"], headers, timeout=120)
                except AssertionError as error:
                    raise AssertionError(f"{error}\n--- worker ---\n{output_of(replacement)}") from None

    assert result["status"] == "succeeded", result
    vpc = StepRun.objects.get(run__request_id=result["id"], name="vpc")
    assert vpc.redispatches >= 1
    assert _member_inventory(aws, result["account"]["id"]) == {
        "vpcs": 1,
        "subnets": 4,
        "internet_gateways": 1,
        "nat_gateways": 1,
        "roles": 4,
        "trails": 1,
        "zones": 1,
    }


def test_under_30_percent_throttling_eight_requests_succeed_within_the_creation_quota(
    demo_payer: Any, aws: EmulatedAws
) -> None:
    """Every AWS call has a 30% chance of being throttled (botocore retries it, then the
    step does), and creations stay in flight a while (IN_PROGRESS for two polls); all 8
    requests succeed and never more than 5 creations were in flight at once (8 > 5: some
    wait for a slot)."""
    need_postgres()
    token = clients.client_create(name="chaos-throttle", scopes=list(clients.ALL_SCOPES), all_payers=True).token
    headers = {"Authorization": f"Bearer {token}"}
    faults = "*:*:Throttling:0.3,organizations:DescribeCreateAccountStatus:in_progress=2"
    with own_redis() as broker:
        env = services_environment(
            aws_url=aws.url,
            redis_url=broker.url,
            AWS_FAULTS=faults,
            ORGANIZATIONS_CREATE_ACCOUNT_RATE="4",
            ORGANIZATIONS_CREATE_ACCOUNT_BURST="5",
            ORGANIZATIONS_SLOT_RECHECK_SECONDS="0.5",
        )
        with celery_worker(env, concurrency=4) as worker, gunicorn(env) as web:
            accepted = [
                requests.post(
                    f"{web.base}/v1/account-requests",
                    json=request_body(tags__project_short_name=f"throttled{i}"),
                    headers=headers,
                    timeout=30,
                )
                for i in range(8)
            ]
            assert [r.status_code for r in accepted] == [202] * 8
            try:
                results = [finished(r.headers["Location"], headers, timeout=240) for r in accepted]
            except AssertionError as error:
                raise AssertionError(f"{error}\n--- worker ---\n{output_of(worker)}") from None

    assert [r["status"] for r in results] == ["succeeded"] * 8, [r.get("failure") for r in results]
    assert accounts.creations_in_flight_peak() <= 5
    assert accounts.creations_in_flight_peak() >= 2  # the quota was really exercised
    created = {a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert {f"aws.demo.throttled{i}.dev@example.com" for i in range(8)} <= created
