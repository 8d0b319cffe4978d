"""A vend pays for its AWS calls and little else: clients are made once per credentials,
service, region and configuration and then reused; an assumed role's credentials are
reused until shortly before they expire, then assumed again."""

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.cloud import api as cloud
from apps.cloud import cache
from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


def test_a_client_is_made_once_and_reused(aws: EmulatedAws) -> None:
    first = cloud.client("ec2", region="us-east-1")

    assert cloud.client("ec2", region="us-east-1") is first
    assert cloud.client("ec2", region="us-west-2") is not first
    assert cloud.client("s3", region="us-east-1") is not first


def test_a_configuration_change_gets_its_own_client(aws: EmulatedAws, settings: Any) -> None:
    first = cloud.client("sts")
    settings.AWS_READ_TIMEOUT = 7.0

    assert cloud.client("sts") is not first


def test_clients_of_two_accounts_are_apart_and_each_lands_in_its_own(aws: EmulatedAws) -> None:
    one = cloud.assume_role(role_arn="arn:aws:iam::111111111111:role/Admin", session_name="bespoke-one")
    two = cloud.assume_role(role_arn="arn:aws:iam::222222222222:role/Admin", session_name="bespoke-two")

    sts_one, sts_two = cloud.client("sts", session=one), cloud.client("sts", session=two)

    assert sts_one is not sts_two
    assert sts_one.get_caller_identity()["Account"] == "111111111111"
    assert sts_two.get_caller_identity()["Account"] == "222222222222"


def _counting_assume_roles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    assumed: list[str] = []
    real = cache.Assumed

    def recording(**fields: Any) -> cache.Assumed:
        assumed.append(fields["access_key_id"])
        return real(**fields)

    monkeypatch.setattr(cache, "Assumed", recording)
    return assumed


def test_an_assumed_roles_credentials_are_reused_until_shortly_before_they_expire(
    aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    assumed = _counting_assume_roles(monkeypatch)
    role = "arn:aws:iam::111111111111:role/Admin"

    first = cloud.assume_role(role_arn=role, session_name="bespoke-x")
    again = cloud.assume_role(role_arn=role, session_name="bespoke-x")

    assert again is first
    assert len(assumed) == 1
    # The credentials now expire within the refresh margin: they are assumed anew.
    [key] = list(cache._assumed)
    stale = cache._assumed[key]
    almost = datetime.now(UTC) + timedelta(seconds=settings.AWS_CREDENTIALS_REFRESH_SECONDS - 1)
    cache._assumed[key] = dataclasses.replace(stale, expiration=almost)

    renewed = cloud.assume_role(role_arn=role, session_name="bespoke-x")

    assert len(assumed) == 2
    assert renewed is not first
    assert cloud.client("sts", session=renewed) is not cloud.client("sts", session=first)
    assert cloud.client("sts", session=renewed).get_caller_identity()["Account"] == "111111111111"


def test_one_vend_makes_each_client_once_and_assumes_each_role_once(
    api: APIClient,
    payer_settings: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    make_api_client: Callable[..., APIClient],
) -> None:
    accounts.blueprint_save(
        payer_name="demo",
        name="baseline",
        definition={"steps": [{"name": "iam"}, {"name": "cloudtrail"}, {"name": "config"}]},
    )
    cloud.forget_cached()
    assumed = _counting_assume_roles(monkeypatch)
    made: list[tuple[Any, ...]] = []
    real_client = cache.client

    def recording(key: Any, make: Callable[[], Any], **options: Any) -> Any:
        def counted() -> Any:
            made.append(key)
            return make()

        return real_client(key, counted, **options)

    monkeypatch.setattr(cache, "client", recording)
    request_id = api.post("/v1/account-requests", request_body(), format="json").json()["id"]

    drain()

    assert api.get(f"/v1/account-requests/{request_id}").json()["status"] == "succeeded"
    assert len(made) == len(set(made))  # no client made twice
    member_keys = {key[0] for key in made if key[0] not in ("base",)}
    assert len(assumed) == len(member_keys) == 1  # the member role, assumed once for every step


def test_a_vend_of_the_demo_blueprint_makes_at_most_one_client_per_service_region_and_account(
    aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seed = seed_demo(var_dir=tmp_path)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {seed.token}")
    cloud.forget_cached()
    assumed = _counting_assume_roles(monkeypatch)
    made: list[tuple[Any, ...]] = []
    real_client = cache.client

    def recording(key: Any, make: Callable[[], Any], **options: Any) -> Any:
        def counted() -> Any:
            made.append(key[:3])  # credentials, service, region
            return make()

        return real_client(key, counted, **options)

    monkeypatch.setattr(cache, "client", recording)
    request_id = api.post("/v1/account-requests", request_body(), format="json").json()["id"]

    drain()

    status = api.get(f"/v1/account-requests/{request_id}").json()
    assert status["status"] == "succeeded", status
    assert len(status["steps"]) == 17  # every step of the demo blueprint, guardrails and vpc included
    assert len(made) == len(set(made))  # at most one client per credentials, service and region
    assert {service for _, service, _ in made} >= {"organizations", "sts", "iam", "ec2", "route53", "config"}
    assert {region for _, service, region in made if service == "ec2"} == {"us-east-1", "us-west-2"}
    member_credentials = {credentials for credentials, _, _ in made if credentials != "base"}
    assert len(assumed) == len(member_credentials) == 1  # one account, its role assumed once for every step


def test_the_cache_keeps_its_size_of_clients_and_a_quarter_as_many_roles_credentials(
    aws: EmulatedAws, settings: Any
) -> None:
    settings.AWS_CLIENT_CACHE_SIZE = 4
    cloud.forget_cached()
    sessions = [
        cloud.assume_role(role_arn=f"arn:aws:iam::{number:012d}:role/Admin", session_name="bespoke-bound")
        for number in range(1, 6)
    ]
    first_client = cloud.client("sts", session=sessions[0])
    for number, session in enumerate(sessions[1:], start=2):
        assert cloud.client("sts", session=session).get_caller_identity()["Account"] == f"{number:012d}"

    assert len(cache._clients) == 4  # Bespoke's own sts client and five members', least recently used dropped
    assert len(cache._assumed) == len(cache._sessions) == 1  # the last role's
    assert cloud.client("sts", session=sessions[0]) is not first_client
    latest = cloud.assume_role(role_arn="arn:aws:iam::000000000005:role/Admin", session_name="bespoke-bound")
    assert latest is sessions[-1]  # still cached: the same session, no new AssumeRole


def test_sessions_of_assumed_roles_are_kept_for_fewer_roles_than_their_credentials(
    aws: EmulatedAws, settings: Any
) -> None:
    settings.AWS_CLIENT_CACHE_SIZE = 64  # 16 roles' credentials, 4 roles' sessions
    cloud.forget_cached()
    for number in range(1, 11):
        session = cloud.assume_role(role_arn=f"arn:aws:iam::{number:012d}:role/Admin", session_name="bespoke-bound")
        cloud.client("sts", session=session)

    assert len(cache._assumed) == 10
    assert len(cache._sessions) == 4
    credentials = list(cache._assumed.values())
    again = cloud.assume_role(role_arn="arn:aws:iam::000000000001:role/Admin", session_name="bespoke-bound")

    # Its credentials were still cached (no new AssumeRole); its session was not: made anew.
    assert sorted(map(id, cache._assumed.values())) == sorted(map(id, credentials))
    assert cloud.client("sts", session=again).get_caller_identity()["Account"] == "000000000001"
    assert len(cache._sessions) == 4


def test_clients_of_different_sessions_share_the_error_classes_of_their_service(aws: EmulatedAws) -> None:
    cloud.forget_cached()
    first = cloud.assume_role(role_arn="arn:aws:iam::000000000001:role/Admin", session_name="bespoke-errors")
    second = cloud.assume_role(role_arn="arn:aws:iam::000000000002:role/Admin", session_name="bespoke-errors")
    assert first is not second

    one, other = cloud.client("iam", session=first), cloud.client("iam", session=second)

    assert one is not other
    assert one.exceptions.NoSuchEntityException is other.exceptions.NoSuchEntityException
    with pytest.raises(other.exceptions.NoSuchEntityException):
        one.get_role(RoleName="not-there")
