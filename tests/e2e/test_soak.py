"""A short soak in CI: ten account requests through the services mode (gunicorn, Celery
workers and beat as processes of their own, PostgreSQL, Redis, moto's server) while AWS
throttles and fails calls and one worker is killed with SIGKILL mid-run. Every request
succeeds, with one account, one CIDR, one email and one webhook each (``bench/soak.py`` is
the long version)."""

from pathlib import Path

import pytest

from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.services import need_postgres, need_redis
from tests.support.soak import SOAK_FAULTS, soak, soak_environment, soak_stack
from tests.support.stack import flush

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]


def test_ten_requests_under_faults_and_a_killed_worker_all_succeed_exactly_once(
    aws: EmulatedAws, tmp_path: Path
) -> None:
    need_postgres()
    redis_url = need_redis()
    flush(redis_url)
    seed = seed_demo(var_dir=tmp_path)
    env = soak_environment(aws_url=aws.url, redis_url=redis_url, faults=SOAK_FAULTS, var_dir=tmp_path)
    with soak_stack(env, token=seed.token) as stack:
        result = soak(stack, [f"soak{i}" for i in range(10)], window=10, kill_every=12, kills=1, timeout=200)

    print("\n".join(result.lines()))
    assert result.kills == 1
    assert result.problems(limit=5) == [], "\n".join(result.lines())
