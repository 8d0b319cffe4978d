"""Fixtures for the serverless footing: the built packages (once per session), moto's
server with a stage's queues and secret, and the packaged functions running in clean
interpreters."""

import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.conftest import EmulatedAws
from tests.deploy import harness
from tests.support.services import need_postgres
from tests.support.stack import test_database_url

STAGES = ("dev", "production-network")


@pytest.fixture(scope="session")
def packages() -> dict[str, Path]:
    """``make package`` for dev and production-network: dist/bespoke-<stage>.zip."""
    zips = harness.build_packages(STAGES)
    for stage, path in zips.items():
        print(
            f"package {stage}: {path.stat().st_size / 2**20:.1f} MiB zipped, "
            f"{harness.unpacked_size(path) / 2**20:.1f} MiB unzipped"
        )
    return zips


@pytest.fixture(scope="session")
def package_roots(packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each package unzipped, as Lambda lays it out in /var/task."""
    return {stage: harness.unpack(path, tmp_path_factory.mktemp(f"task-{stage}")) for stage, path in packages.items()}


@pytest.fixture(scope="session")
def _postgres() -> None:
    need_postgres()


@dataclass
class Footing:
    """moto's server with a stage's queues and secret, and the test database."""

    aws: EmulatedAws
    queues: harness.Queues
    roots: dict[str, Path]
    database_url: str

    def environment(self, stage: str, **overrides: str) -> dict[str, str]:
        return harness.lambda_environment(stage, aws_url=self.aws.url, task_root=self.roots[stage], **overrides)

    def function(self, stage: str, **overrides: str) -> AbstractContextManager[harness.LambdaProcess]:
        return harness.running(self.roots[stage], stage, self.environment(stage, **overrides))

    def produce(self, messages: list[dict[str, Any]]) -> list[str]:
        return harness.produce(messages, aws_url=self.aws.url, queues=self.queues, database_url=self.database_url)


def secret_values(database_url: str, queues: harness.Queues) -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "WEBHOOK_SECRET_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "SQS_QUEUE_URL_BASE": queues.url_base,
        "TASK_RETRY_BASE_SECONDS": "1",
        "TASK_RETRY_MAX_SECONDS": "2",
    }


@pytest.fixture
def footing(_postgres: None, aws: EmulatedAws, package_roots: dict[str, Path]) -> Footing:
    """The dev stage's queues (from the CloudFormation template) and its secret in moto."""
    database_url = test_database_url()
    queues = harness.create_queues(aws.url, "dev")
    harness.put_secret(aws.url, "bespoke/dev", secret_values(database_url, queues))
    return Footing(aws=aws, queues=queues, roots=package_roots, database_url=database_url)


@pytest.fixture
def dev_function(footing: Footing) -> Iterator[harness.LambdaProcess]:
    with footing.function("dev") as function:
        yield function


@pytest.fixture
def bearer(db: None) -> Callable[[], dict[str, str]]:
    from apps.clients import api as clients

    def make() -> dict[str, str]:
        token = clients.client_create(
            name=f"serverless-{secrets.token_hex(4)}", scopes=list(clients.ALL_SCOPES), all_payers=True
        ).token
        return {"Authorization": f"Bearer {token}"}

    return make
