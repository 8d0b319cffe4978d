"""DB_IAM_AUTH: each new connection logs in with an IAM token that RDS Proxy accepts —
the same token botocore's RDS client makes — and the engine is plain PostgreSQL otherwise
(the test database trusts local logins, so the token is carried and ignored)."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.credentials import Credentials
from django.db import connection
from django.db.utils import load_backend

from apps.cloud.postgres_iam.base import auth_token
from tests.support.services import need_postgres

HOST = "bespoke-dev.proxy-abcdefghijkl.us-east-1.rds.amazonaws.com"
CREDENTIALS = Credentials("AKIDEXAMPLE", "secret-example", "session-token-example")


def test_the_token_is_the_one_boto3_makes() -> None:
    rds = boto3.client(
        "rds",
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        aws_session_token=CREDENTIALS.token,
    )
    for _ in range(3):  # both signed within the same second (X-Amz-Date)
        ours = auth_token(host=HOST, port=5432, user="bespoke", region="us-east-1", credentials=CREDENTIALS)
        theirs = rds.generate_db_auth_token(DBHostname=HOST, Port=5432, DBUsername="bespoke")
        if ours == theirs:
            break
    assert ours == theirs
    query = parse_qs(urlsplit(f"https://{ours}").query)
    assert ours.startswith(f"{HOST}:5432/?Action=connect&DBUser=bespoke&")
    assert query["X-Amz-Expires"] == ["900"]
    assert "/us-east-1/rds-db/aws4_request" in query["X-Amz-Credential"][0]


@pytest.fixture
def iam_settings(db: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    need_postgres()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_key)
    return {**connection.settings_dict, "ENGINE": "apps.cloud.postgres_iam", "PASSWORD": ""}


def test_each_connection_signs_its_own_token_and_connects(iam_settings: dict[str, Any]) -> None:
    wrapper = load_backend("apps.cloud.postgres_iam").DatabaseWrapper(iam_settings, alias="iam")
    params = wrapper.get_connection_params()
    assert params["password"].startswith(f"{params['host']}:{params['port'] or 5432}/?Action=connect&DBUser=")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == iam_settings["USER"]
    finally:
        wrapper.close()
