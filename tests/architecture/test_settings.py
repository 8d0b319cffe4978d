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
