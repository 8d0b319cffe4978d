"""The serverless settings read their secrets from Secrets Manager at cold start; the
environment wins over the secret; a missing secret fails loudly."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from project.settings.secrets import load_secrets_into_environ
from tests.conftest import EmulatedAws
from tests.deploy import harness


def test_secret_fills_the_environment(aws: EmulatedAws) -> None:
    harness.aws_client("secretsmanager", aws.url).create_secret(
        Name="bespoke/test", SecretString=json.dumps({"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "postgres://x/y"})
    )
    environ = {"BESPOKE_SECRETS_ID": "bespoke/test", "AWS_REGION": "us-east-1", "DATABASE_URL": "postgres://mine/db"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", aws.url)
        loaded = load_secrets_into_environ(environ)
    assert loaded == ["DJANGO_SECRET_KEY"]
    assert environ["DJANGO_SECRET_KEY"] == "k"
    assert environ["DATABASE_URL"] == "postgres://mine/db"


def test_without_a_secret_id_nothing_is_read() -> None:
    environ: dict[str, str] = {}
    assert load_secrets_into_environ(environ) == []


def test_a_missing_secret_stops_the_start(aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    with pytest.raises(ImproperlyConfigured, match="bespoke/none"):
        load_secrets_into_environ({"BESPOKE_SECRETS_ID": "bespoke/none", "AWS_REGION": "us-east-1"})
