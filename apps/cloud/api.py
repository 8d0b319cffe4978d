"""AWS access for every context: sessions, assume-role, clients and error classification.

Every boto3 client Bespoke makes comes from here, so every one honours
``AWS_ENDPOINT_URL`` (moto's server locally and in tests), uses botocore's adaptive
retries and bounded timeouts, and turns AWS errors into retryable or permanent step
errors with the AWS error code preserved.
"""

import functools
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, timedelta
from typing import Any

import boto3
import botocore.exceptions
import botocore.parsers
from botocore.client import BaseClient
from botocore.config import Config
from django.conf import settings

from apps.cloud import budget, cache, faults, instrument, spans
from apps.kernel.errors import PermanentError, RetryableError
from apps.kernel.steptools import required_input

# Error codes that mean "not now": throttling, transient server trouble, races that
# settle by themselves. Anything else is permanent and fails the step at once.
RETRYABLE_CODES = instrument.THROTTLING_CODES | frozenset(
    {
        "PriorRequestNotComplete",
        "ConcurrentModificationException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalErrorException",
        "ServiceException",
        "RequestTimeout",
        "RequestTimeoutException",
        "IDPCommunicationError",
    }
)

_local = threading.local()


def _config() -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
    )


def base_session() -> boto3.Session:
    """The credentials Bespoke itself runs with (one session per thread: boto3 sessions
    are not thread-safe; the clients they make are cached and shared)."""
    session: boto3.Session | None = getattr(_local, "session", None)
    if session is None:
        session = cache.new_session(region_name=settings.AWS_DEFAULT_REGION)
        session._bespoke_credentials_key = "base"
        _local.session = session
    return session


def client(service: str, *, session: boto3.Session | None = None, region: str | None = None) -> Any:
    """A boto3 client for ``service``, wired to the configured endpoint: made once per
    credentials, service, region and configuration, then reused (``apps.cloud.cache``)."""
    chosen = session or base_session()
    region_name = region or chosen.region_name or settings.AWS_DEFAULT_REGION
    key = (
        cache.credentials_key(chosen),
        service,
        region_name,
        settings.AWS_ENDPOINT_URL,
        settings.AWS_FAULTS,
        settings.AWS_MAX_ATTEMPTS,
        settings.AWS_CONNECT_TIMEOUT,
        settings.AWS_READ_TIMEOUT,
    )

    def make() -> Any:
        made = chosen.client(service, region_name=region_name, endpoint_url=settings.AWS_ENDPOINT_URL, config=_config())
        # Before the fault rules: an attempt that would outlast the budget is never made.
        made.meta.events.register("before-send", budget.check_before_send, unique_id="bespoke-time-budget")
        if service == "s3control" and settings.AWS_ENDPOINT_URL:
            made.meta.events.register("before-send.s3-control", unprefixed_emulator_host)
        if settings.AWS_FAULTS:
            faults.install(made, _fault_rules(settings.AWS_FAULTS))
        instrument.install(made)
        spans.install(made)
        return made

    return cache.client(key, make, enabled=settings.AWS_CLIENT_CACHE, limit=settings.AWS_CLIENT_CACHE_SIZE)


_ACCOUNT_HOST_PREFIX = re.compile(r"^(https?://)\d{12}\.")


def unprefixed_emulator_host(request: Any, **_: Any) -> None:
    """S3 Control puts the account id in front of the host (``123456789012.<endpoint>``),
    which an emulator's loopback address does not resolve: send it to the endpoint itself."""
    request.url = _ACCOUNT_HOST_PREFIX.sub(r"\1", request.url)


@functools.cache
def _fault_rules(spec: str) -> tuple[faults.FaultRule, ...]:
    return faults.parse_rules(spec)


def assume_role(*, role_arn: str, session_name: str, session: boto3.Session | None = None) -> boto3.Session:
    """A session with the credentials of ``role_arn`` (assumed from ``session``), reused
    until ``AWS_CREDENTIALS_REFRESH_SECONDS`` before they expire."""
    source = session or base_session()

    def assume() -> cache.Assumed:
        sts: BaseClient = client("sts", session=source)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        expiration = credentials["Expiration"]
        return cache.Assumed(
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
            expiration=expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC),
        )

    key = (role_arn, cache.credentials_key(source), settings.AWS_ENDPOINT_URL)
    margin = timedelta(seconds=settings.AWS_CREDENTIALS_REFRESH_SECONDS)
    limit = settings.AWS_CLIENT_CACHE_SIZE
    credentials = cache.assumed(key, assume, margin=margin, enabled=settings.AWS_CLIENT_CACHE, limit=limit)
    return cache.session_for(credentials, region=source.region_name, limit=limit)


def forget_cached() -> None:
    """Drop every cached client and assumed credential (an emulator was reset)."""
    cache.forget()


def management_session(*, role_arn: str | None) -> boto3.Session:
    """The payer's management account: its role if one is configured, else our own credentials."""
    if role_arn:
        return assume_role(role_arn=role_arn, session_name="bespoke-management")
    return base_session()


def member_session(*, management: boto3.Session, account_id: str, role_name: str) -> boto3.Session:
    """A session inside member account ``account_id`` through its cross-account role."""
    role_arn = f"arn:aws:iam::{account_id}:role/{role_name}"
    return assume_role(role_arn=role_arn, session_name=f"bespoke-{account_id}", session=management)


def member_session_for(*, payer_settings: Mapping[str, Any], account_id: str) -> boto3.Session:
    """A session in member account ``account_id`` of the payer described by ``payer_settings``
    (the ``payer_settings`` input every step receives)."""
    management = management_session(role_arn=payer_settings.get("management_role_arn") or None)
    return member_session(management=management, account_id=account_id, role_name=payer_settings["member_role_name"])


def member_session_of(inputs: Mapping[str, Any]) -> boto3.Session:
    """A session in the member account a step works on (its ``payer_settings`` and
    ``account_id`` inputs); a refused AssumeRole is a step error like any AWS error."""
    with aws_errors("AssumeRole"):
        return member_session_for(
            payer_settings=required_input(inputs, "payer_settings"), account_id=required_input(inputs, "account_id")
        )


def management_session_of(inputs: Mapping[str, Any]) -> boto3.Session:
    """A session in the management account of the payer a step works for (its
    ``payer_settings`` input); a refused AssumeRole is a step error like any AWS error."""
    with aws_errors("AssumeRole"):
        payer_settings = required_input(inputs, "payer_settings")
        return management_session(role_arn=payer_settings.get("management_role_arn") or None)


def error_code(error: BaseException) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


# An answer botocore could not read — a 5xx page from something in front of the service, a
# cut-off body — is not one of botocore's own errors (``BotoCoreError``); botocore says
# "further retries may succeed", and they are tried again like any 5xx.
UNREADABLE_ANSWER = botocore.parsers.ResponseParserError


def is_retryable(error: BaseException) -> bool:
    if isinstance(
        error,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectTimeoutError
        | botocore.exceptions.ReadTimeoutError
        | botocore.exceptions.ConnectionClosedError
        | UNREADABLE_ANSWER
        | budget.TimeBudgetExhausted,
    ):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(error) in RETRYABLE_CODES or status >= 500
    return False


@contextmanager
def aws_errors(action: str, *, retryable_codes: frozenset[str] = frozenset()) -> Iterator[None]:
    """Translate AWS errors raised in the block into step errors.

    ``retryable_codes`` adds codes that are transient for this action only (for example
    AccessDenied right after an account is created, before its role can be assumed).
    """
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, UNREADABLE_ANSWER) as error:
        code = error_code(error)
        message = f"{action}: {code}: {_aws_message(error)}"
        if is_retryable(error) or code in retryable_codes:
            raise RetryableError(message, code=code) from error
        raise PermanentError(message, code=code) from error


def _aws_message(error: BaseException) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Message", "")) or str(error)
    return str(error)
