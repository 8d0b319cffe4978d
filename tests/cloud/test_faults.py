"""Fault injection: chosen AWS operations fail the way AWS fails, through the real client."""

import itertools
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from apps.cloud import api as cloud
from apps.cloud import faults
from apps.cloud.faults import InvalidFaultRule, parse_rules
from apps.kernel.errors import PermanentError, RetryableError
from tests.conftest import EmulatedAws


def test_rules_parse_and_bad_rules_are_refused() -> None:
    rules = parse_rules("ec2:CreateVpc:AccessDenied, organizations:*:TooManyRequestsException:0.3")

    assert [(r.service, r.operation, r.error_code, r.probability) for r in rules] == [
        ("ec2", "CreateVpc", "AccessDenied", 1.0),
        ("organizations", "*", "TooManyRequestsException", 0.3),
    ]
    for bad in ("ec2:CreateVpc", "ec2::AccessDenied", "ec2:CreateVpc:AccessDenied:2", "ec2:CreateVpc:X:0"):
        with pytest.raises(InvalidFaultRule):
            parse_rules(bad)


def test_an_injected_fault_fails_only_the_named_operation(aws: EmulatedAws, settings: Any) -> None:
    settings.AWS_FAULTS = "ec2:CreateVpc:AccessDenied"
    ec2 = cloud.client("ec2")

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ec2.create_vpc(CidrBlock="10.0.0.0/16")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert ec2.describe_vpcs()["Vpcs"] is not None  # other operations still reach the emulator
    assert all(v["CidrBlock"] != "10.0.0.0/16" for v in ec2.describe_vpcs()["Vpcs"])


def test_injected_faults_are_classified_like_real_ones(aws: EmulatedAws, settings: Any) -> None:
    settings.AWS_FAULTS = "sts:GetCallerIdentity:Throttling,s3:ListBuckets:AccessDenied"

    with pytest.raises(RetryableError) as throttled, cloud.aws_errors("GetCallerIdentity"):
        cloud.client("sts").get_caller_identity()
    with pytest.raises(PermanentError) as denied, cloud.aws_errors("ListBuckets"):
        cloud.client("s3").list_buckets()

    assert throttled.value.code == "Throttling"
    assert denied.value.code == "AccessDenied"


def test_a_probability_fails_about_that_share_of_calls(aws: EmulatedAws, settings: Any) -> None:
    settings.AWS_FAULTS = "sts:GetCallerIdentity:Throttling:0.5"
    settings.AWS_MAX_ATTEMPTS = 0  # no botocore retries (it counts retries, not attempts): the raw faults
    # A new client each call: botocore's adaptive mode slows a client down after each
    # throttle, which a cached client would pay for on every later call.
    settings.AWS_CLIENT_CACHE = False
    failures = 0
    for _ in range(100):
        try:
            cloud.client("sts").get_caller_identity()
        except botocore.exceptions.ClientError:
            failures += 1

    assert 30 < failures < 70  # 50 expected; four standard deviations either side


def test_botocore_retries_an_injected_throttle_like_a_real_one(
    aws: EmulatedAws, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault is an HTTP answer in the service's protocol: botocore parses it and its
    retry handler retries it, for JSON (Organizations) and XML (EC2, STS) services alike."""
    settings.AWS_FAULTS = (
        "organizations:ListRoots:TooManyRequestsException:0.5,ec2:DescribeVpcs:RequestLimitExceeded:0.5"
    )
    settings.AWS_MAX_ATTEMPTS = 8
    aws.client("organizations").create_organization(FeatureSet="ALL")
    # The dice: each call's first attempt is throttled, its retry is not.
    draws = itertools.cycle([0.0, 0.99])
    monkeypatch.setattr(faults, "random", SimpleNamespace(random=lambda: next(draws)))

    roots = cloud.client("organizations").list_roots()
    vpcs = cloud.client("ec2").describe_vpcs()

    assert roots["ResponseMetadata"]["RetryAttempts"] == 1
    assert vpcs["ResponseMetadata"]["RetryAttempts"] == 1
    assert roots["Roots"]
    assert "Vpcs" in vpcs


def test_a_lag_rule_slows_calls_down_without_failing_them(aws: EmulatedAws, settings: Any) -> None:
    import time

    settings.AWS_FAULTS = "*:*:lag=0.2"
    sts = cloud.client("sts")
    started = time.monotonic()
    sts.get_caller_identity()

    assert time.monotonic() - started >= 0.2
    with pytest.raises(InvalidFaultRule):
        parse_rules("*:*:lag=soon")


def test_an_answer_botocore_cannot_read_is_tried_again_not_taken_for_a_bug(aws: EmulatedAws) -> None:
    """A 500 whose body is an HTML page (a proxy, a load balancer, an overloaded emulator):
    botocore raises ResponseParserError, which is not a BotoCoreError."""
    client = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=aws.url,
        config=Config(retries={"total_max_attempts": 1}),
    )
    page = b"<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
    client.meta.events.register(
        "before-send.iam.GetAccountAuthorizationDetails",
        lambda **_: AWSResponse("https://iam.amazonaws.com/", 500, {"Content-Type": "text/html"}, RawBody(page)),
    )

    with pytest.raises(RetryableError) as unreadable, cloud.aws_errors("GetAccountAuthorizationDetails"):
        client.get_account_authorization_details()

    assert unreadable.value.code == "ResponseParserError"
    assert "Internal Server Error" in unreadable.value.message


class RawBody:
    """What botocore reads an HTTP response's body from."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Any:
        yield self.content
