"""SnapStart with the database behind RDS Proxy: no connection survives into the snapshot,
and the first query after a restore opens a new one that signs a new IAM token (a token is
never kept)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from apps.cloud.postgres_iam import base as postgres_iam
from deploy import snapstart
from tests.support.services import need_postgres


@pytest.fixture
def iam_connection(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The test database's connection, logging in as ``DB_IAM_AUTH`` does (the engine is a
    subclass of PostgreSQL's: only the login differs; the test database ignores the token)."""
    need_postgres()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    connection = connections["default"]
    connection.close()
    monkeypatch.setattr(connection, "__class__", postgres_iam.DatabaseWrapper)
    yield connection
    connection.close()


def test_restore_reconnects_with_a_fresh_token(iam_connection: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    signed: list[str] = []

    def recording(**arguments: Any) -> str:
        token = real(**arguments)
        signed.append(token)
        return token

    real = postgres_iam.auth_token
    monkeypatch.setattr(postgres_iam, "auth_token", recording)
    with iam_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert len(signed) == 1

    snapstart.before_snapshot()
    assert iam_connection.connection is None
    snapstart.after_restore()
    assert iam_connection.connection is None

    with iam_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert len(signed) == 2
