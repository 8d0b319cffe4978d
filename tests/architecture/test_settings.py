"""Each runtime mode's settings load, and the deployable ones pass ``check --deploy``."""

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.processes import child_environment

ROOT = Path(__file__).resolve().parents[2]

DEPLOYABLE = {
    "project.settings.production": {"REDIS_URL": "redis://127.0.0.1:6379/0"},
    "project.settings.serverless": {},
}


@pytest.mark.parametrize("module", sorted(DEPLOYABLE))
def test_deploy_checks_are_clean(module: str) -> None:
    env = child_environment(
        DJANGO_SETTINGS_MODULE=module,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        WEBHOOK_SECRET_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL="postgres://bespoke@127.0.0.1:5432/bespoke",
        DJANGO_ALLOWED_HOSTS="bespoke.example.com",
        **DEPLOYABLE[module],
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", sorted(DEPLOYABLE))
def test_deployable_settings_refuse_to_start_without_a_secret_key(module: str) -> None:
    env = child_environment(
        DJANGO_SETTINGS_MODULE=module, DATABASE_URL="postgres://x@127.0.0.1/x", **DEPLOYABLE[module]
    )
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/15", 0, "redis://127.0.0.1:6379/15"),
        ("redis://127.0.0.1:6379/15", 1, "redis://127.0.0.1:6379/14"),
        ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/15"),
        (
            "redis://:pw@redis.internal:6380/2?ssl_cert_reqs=none",
            3,
            "redis://:pw@redis.internal:6380/15?ssl_cert_reqs=none",
        ),
    ],
)
def test_each_test_process_gets_a_redis_database_of_its_own(url: str, worker: int, expected: str) -> None:
    from project.settings.test import redis_database_for_worker

    assert redis_database_for_worker(url, worker) == expected


@pytest.mark.parametrize(
    ("nodeid", "group"),
    [
        ("tests/e2e/test_soak.py::test_ten_requests", "e2e"),
        ("tests/deploy/test_package.py::test_package_is_lean[dev]", "deploy"),
        ("tests/e2e/browser/test_laptop.py::test_no_list_scrolls_sideways", None),
        ("tests/intake/test_create_request.py::test_e2e_like_name", None),
        ("tests/test_e2e.py::test_x", None),
    ],
)
def test_end_to_end_and_deploy_tests_run_in_one_test_process_each(nodeid: str, group: str | None) -> None:
    """``make test`` runs tests in several processes; those that flush Redis, start the
    service's processes or build into the checkout share one (tests/conftest.py)."""
    from tests.conftest import serial_group

    assert serial_group(nodeid) == group


def test_every_test_has_an_id_of_its_own(request: pytest.FixtureRequest) -> None:
    """The parallel run finds tests by id: two tests with one id would run once."""
    ids = [item.nodeid for item in request.session.items]
    assert len(ids) == len(set(ids))
    ids_here = [item.nodeid for item in request.session.items if item.path == Path(__file__)]
    assert len(ids_here) == len(set(ids_here)) > 1


def test_the_brokers_visibility_timeout_comes_from_the_environment() -> None:
    """A message a killed worker held comes back after BROKER_VISIBILITY_TIMEOUT (services mode)."""
    env = child_environment(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        WEBHOOK_SECRET_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL="postgres://bespoke@127.0.0.1:5432/bespoke",
        REDIS_URL="redis://127.0.0.1:6379/0",
        BROKER_VISIBILITY_TIMEOUT="45",
    )
    script = "from django.conf import settings; print(settings.CELERY_BROKER_TRANSPORT_OPTIONS)"
    shown = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'visibility_timeout': 45" in shown
    assert "'unacked_restore_throttle': 1" in shown
