"""The legacy paths accept what Tailor's API Gateway accepted — requests signed with
Signature Version 4 (service ``execute-api``, any region) — with an access key pair that
``create_client --sigv4`` issues, besides Bespoke's bearer tokens; behind API Gateway's
IAM authorization, the caller's IAM ARN names the client. Everything else is refused as
API Gateway refused it: 403 with its ``{"message"}`` body."""

import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.clients.models import ApiClient, SigV4Key
from apps.kernel import clock, keyring
from tests.legacy.conftest import PAYER, create_client
from tests.legacy.signing import SignedClient, send

pytestmark = pytest.mark.django_db

STATUS = "/requeststatus/00000000-0000-4000-8000-000000000000"
NOT_FOUND = b'{"code" : "4040","message" : "Not found"}'


@pytest.fixture
def later() -> Iterator[Callable[[timedelta], None]]:
    def move(delta: timedelta) -> None:
        now = clock.now()
        clock.set_source(lambda: now + delta)

    yield move
    clock.set_source(None)


def test_create_client_prints_the_key_pair_once_and_stores_its_secret_encrypted(acme: object) -> None:
    printed = create_client("portal", "--scope", "requests:read", "--payer", PAYER)
    stored = SigV4Key.objects.get()
    assert stored.access_key_id == printed["access_key_id"]
    assert stored.client.name == "portal"
    assert printed["secret_access_key"] not in stored.secret_encrypted
    from apps.clients.keys import secret_keys

    keys, setting = secret_keys()
    assert keyring.decrypt(stored.secret_encrypted, keys, setting=setting) == printed["secret_access_key"]


def test_without_sigv4_no_key_pair_is_issued(acme: object) -> None:
    call_command("create_client", "portal", "--scope", "requests:read", "--payer", PAYER, stdout=io.StringIO())
    assert not SigV4Key.objects.exists()


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_a_request_signed_in_any_region_is_accepted(make_signed: Callable[..., SignedClient], region: str) -> None:
    response = make_signed(region=region).call("GET", STATUS)
    assert response.status_code == 404  # authenticated: the request id is simply unknown
    assert response.content == NOT_FOUND


def test_a_signed_body_is_accepted_and_a_changed_body_refused(signed: SignedClient) -> None:
    body = {"accountId": "123456789012"}
    assert signed.call("PUT", "/config/123456789012", body).status_code == 404  # signed: unknown account
    tampered = signed.call("PUT", "/vpcdns", body, tamper=json.dumps({"accountId": "999999999999"}).encode())
    assert tampered.status_code == 403
    assert tampered.json()["message"].startswith("The request signature we calculated does not match")
    assert tampered["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_a_content_hash_header_must_be_the_bodys(signed: SignedClient) -> None:
    response = signed.call("PUT", "/vpcdns", {"a": 1}, headers={"X-Amz-Content-SHA256": "0" * 64})
    assert response.status_code == 403
    assert "x-amz-content-sha256" in response.json()["message"]


def test_another_service_is_refused(make_signed: Callable[..., SignedClient]) -> None:
    client = make_signed()
    client.service = "s3"
    response = client.call("GET", STATUS)
    assert response.status_code == 403
    assert response.json() == {"message": "Credential should be scoped to correct service: 'execute-api'."}


def test_a_wrong_secret_is_refused(signed: SignedClient) -> None:
    signed.secret_access_key += "x"
    response = signed.call("GET", STATUS)
    assert response.status_code == 403
    assert response["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_an_unknown_or_revoked_key_is_refused(signed: SignedClient) -> None:
    SigV4Key.objects.update(revoked_at=clock.now())
    response = signed.call("GET", STATUS)
    assert response.status_code == 403
    assert response.content == b'{"message":"The security token included in the request is invalid."}'
    assert response["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_an_inactive_clients_key_is_refused(signed: SignedClient) -> None:
    ApiClient.objects.update(active=False)
    assert signed.call("GET", STATUS).status_code == 403


def test_a_signature_older_than_15_minutes_is_refused(signed: SignedClient, later: Callable[[timedelta], None]) -> None:
    later(timedelta(minutes=16))
    response = signed.call("GET", STATUS)
    assert response.status_code == 403
    assert response.json()["message"].startswith("Signature expired: ")


def test_a_signature_from_15_minutes_ahead_is_refused(signed: SignedClient, later: Callable[[timedelta], None]) -> None:
    later(-timedelta(minutes=16))
    response = signed.call("GET", STATUS)
    assert response.status_code == 403
    assert response.json()["message"].startswith("Signature not yet current: ")


def test_a_signature_within_15_minutes_is_accepted(signed: SignedClient, later: Callable[[timedelta], None]) -> None:
    later(timedelta(minutes=14))
    assert signed.call("GET", STATUS).status_code == 404


def test_an_unsigned_request_answers_api_gateways_403(acme: object) -> None:
    response = Client().get(STATUS)
    assert response.status_code == 403
    assert response.content == b'{"message":"Missing Authentication Token"}'
    assert response["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_a_malformed_authorization_header_is_refused(acme: object) -> None:
    response = send("GET", STATUS, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert response.status_code == 403
    assert response["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_bearer_tokens_are_still_accepted(make_api_client: Callable[..., object], acme: object) -> None:
    api = make_api_client(payers=(PAYER,))
    response = api.get(STATUS)  # type: ignore[attr-defined]
    assert response.status_code == 404
    bad = Client().get(STATUS, HTTP_AUTHORIZATION="Bearer bsp_nope_nope")
    assert bad.status_code == 403
    assert bad.json() == {"message": "The security token included in the request is invalid."}


def _behind_api_gateway(arn: str) -> dict[str, object]:
    """What Zappa hands Django when API Gateway's IAM authorization let the call in."""
    return {"lambda.event": {"requestContext": {"identity": {"userArn": arn}}}}


def test_behind_api_gateway_the_callers_iam_arn_names_the_client(acme: object) -> None:
    arn = "arn:aws:iam::123456789012:user/servicenow"
    create_client("servicenow", "--scope", "requests:read", "--payer", PAYER, "--iam-arn", arn)
    response = Client().get(STATUS, **_behind_api_gateway(arn))  # type: ignore[arg-type]
    assert response.status_code == 404  # authenticated as servicenow
    assert ApiClient.objects.get(name="servicenow").iam_arns == [arn]


def test_behind_api_gateway_an_unlisted_arn_is_refused(acme: object) -> None:
    arn = "arn:aws:iam::123456789012:user/someone-else"
    response = Client().get(STATUS, **_behind_api_gateway(arn))  # type: ignore[arg-type]
    assert response.status_code == 403
    assert response.json()["Message"].startswith(f"User: {arn} is not authorized to perform: execute-api:Invoke")
    assert response["x-amzn-ErrorType"] == "AccessDeniedException"


def test_an_arn_header_from_the_caller_is_not_trusted(acme: object) -> None:
    arn = "arn:aws:iam::123456789012:user/servicenow"
    create_client("servicenow", "--scope", "requests:read", "--payer", PAYER, "--iam-arn", arn)
    assert Client().get(STATUS, HTTP_X_USER_ARN=arn, REMOTE_USER=arn).status_code == 403


def test_create_client_refuses_what_is_not_an_iam_arn(acme: object) -> None:
    with pytest.raises(CommandError, match="Not an IAM principal ARN"):
        create_client("bad", "--scope", "requests:read", "--payer", PAYER, "--iam-arn", "servicenow")
    assert not ApiClient.objects.exists()
