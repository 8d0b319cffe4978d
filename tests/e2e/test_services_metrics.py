"""Metrics in the services mode: gunicorn's and the Celery worker's processes count into one
directory, and one scrape of ``/metrics`` shows the whole vend — the request, the run, every
step and the AWS calls, counted once."""

from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.services import need_postgres, need_redis
from tests.support.stack import celery_worker, flush, gunicorn, services_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]


def _series(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _sum(series: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (found, have), value in series.items() if found == name and wanted <= have)


def test_one_scrape_shows_the_whole_vend_across_processes(aws: EmulatedAws, tmp_path: Path) -> None:
    need_postgres()
    redis_url = need_redis()
    flush(redis_url)
    seed = seed_demo(var_dir=tmp_path)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = services_environment(aws_url=aws.url, redis_url=redis_url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    client = {"Authorization": f"Bearer {seed.token}"}
    scraper = {"Authorization": f"Bearer {seed.operator_token}"}

    with celery_worker(env, concurrency=2), gunicorn(env) as web:
        accepted = requests.post(f"{web.base}/v1/account-requests", json=request_body(), headers=client, timeout=10)
        assert accepted.status_code == 202, accepted.text
        done = wait_for(
            lambda: requests.get(accepted.headers["Location"], headers=client, timeout=10).json(),
            until=lambda body: body["status"] in ("succeeded", "failed"),
            timeout=120,
            interval=0.5,
        )
        answer = requests.get(f"{web.base}/metrics", headers=scraper, timeout=10)

    assert done["status"] == "succeeded", done
    assert answer.status_code == 200, answer.text
    series = _series(answer.text)
    assert _sum(series, "bespoke_account_requests_total", outcome="accepted") == 1
    assert _sum(series, "bespoke_runs_total", kind="account_request", outcome="succeeded") == 1
    assert _sum(series, "bespoke_time_to_ready_seconds_count", kind="account_request") == 1
    for step in done["steps"]:
        assert _sum(series, "bespoke_step_attempts_total", step=step["name"], outcome="succeeded") == 1, step["name"]
    assert _sum(series, "bespoke_aws_calls_total", service="organizations", operation="CreateAccount", code="ok") == 1
    assert _sum(series, "bespoke_aws_calls_total") > 20
    assert _sum(series, "bespoke_outbox_published_total") > 0
    assert len(list(metrics_dir.iterdir())) >= 2  # the web's and the worker's processes wrote their own files
