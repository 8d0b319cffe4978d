"""Webhook signatures: what a receiver checks, and what it must refuse."""

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from apps.kernel import clock
from apps.notifications.signing import new_secret, sign, signature_header, verify_signature

SECRET = "whsec_test"
BODY = '{"id":"e1","type":"run.succeeded","data":{"project":"It\'s \\"quoted\\""}}'
T = 1_800_000_000


@pytest.fixture
def frozen_clock() -> object:
    clock.set_source(lambda: datetime.fromtimestamp(T, UTC))
    yield
    clock.set_source(None)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.{BODY}".encode(), hashlib.sha256).hexdigest()

    assert sign(SECRET, T, BODY) == expected
    assert sign(SECRET, T, BODY.encode()) == expected
    assert signature_header(SECRET, BODY, timestamp=T) == f"t={T},v1={expected}"


def test_a_header_signed_now_verifies(frozen_clock: object) -> None:
    header = signature_header(SECRET, BODY)

    assert header.startswith(f"t={T},v1=")
    assert verify_signature(SECRET, header, BODY)
    assert verify_signature(SECRET, header, BODY.encode())


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, T),  # wrong secret
        (SECRET, BODY.replace("quoted", "altered"), T),  # body tampered with
        (SECRET, BODY, T + 301),  # replayed too late
        (SECRET, BODY, T - 301),  # from the future
    ],
    ids=["wrong-secret", "tampered-body", "too-old", "too-new"],
)
def test_what_a_receiver_must_refuse(secret: str, body: str, now: int) -> None:
    header = signature_header(SECRET, BODY, timestamp=T)

    assert not verify_signature(secret, header, body, now=now)


def test_the_tolerance_is_the_receivers_choice() -> None:
    header = signature_header(SECRET, BODY, timestamp=T)

    assert verify_signature(SECRET, header, BODY, now=T + 300)
    assert not verify_signature(SECRET, header, BODY, tolerance_seconds=60, now=T + 61)


@pytest.mark.parametrize(
    "header", ["", "v1=abc", f"t={T}", f"t=soon,v1={sign(SECRET, T, BODY)}", "garbage", f"t={T},v0=abc"]
)
def test_malformed_headers_are_refused(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=T)


def test_any_of_several_signatures_may_match_during_a_secret_rotation() -> None:
    header = f"t={T},v1={sign('whsec_old', T, BODY)},v1={sign(SECRET, T, BODY)}"

    assert verify_signature(SECRET, header, BODY, now=T)
    assert verify_signature("whsec_old", header, BODY, now=T)


def test_secrets_are_random_and_long() -> None:
    secrets = {new_secret() for _ in range(20)}

    assert len(secrets) == 20
    assert all(s.startswith("whsec_") and len(s) == len("whsec_") + 64 for s in secrets)
