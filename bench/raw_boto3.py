"""The raw-boto3 floor of ``end_to_end.py``: every AWS call one vend makes, recorded from
botocore's own events, then made again with plain boto3 clients — one per service, region
and account, no Django — against the same emulator.

Recording keeps, per call: the service, region, whose credentials (Bespoke's own or an
assumed role's), the operation, its parameters and the parsed answer. Replaying makes the
same calls in order in a new account; the ids the recorded answers returned (account ids,
``vpc-…``, ``subnet-…``, ARNs, request ids of account creation, …) are mapped to the ones
the replay's answers return, and every later parameter has them replaced.
"""

import copy
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

BASE = "base"
# Strings shorter than this are never treated as ids (counts, states, "true", ports, …).
_MIN_ID = 6
_SEPARATORS = re.compile(r"[/:,=\s\"']+")
_TOKENS = re.compile(r"([/:,=\s\"']+)")  # split, keeping the separators
_ACCOUNT_HOST_PREFIX = re.compile(r"^(https?://)\d{12}\.")


@dataclass
class Call:
    service: str
    region: str
    principal: str  # BASE or "role:<ARN>" (the recorded ARN)
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]
    error: str | None
    step: str = ""


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)
    step: str = ""  # the step making the calls, set by the caller
    active: bool = True  # cached clients keep the hooks: calls after recording are ignored
    _principals: dict[str, str] = field(default_factory=dict)  # access key -> principal

    def per_operation(self) -> Counter[str]:
        return Counter(f"{call.service}:{call.operation}" for call in self.calls)

    def install(self, client: Any) -> None:
        """Record every call ``client`` makes (once per client, whatever the number of calls)."""
        service = client.meta.service_model.service_name
        region = client.meta.region_name
        credentials = client._request_signer._credentials
        events = client.meta.events

        def params(*, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["bench_params"] = copy.deepcopy(params)

        def after(*, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if not self.active:
                return
            key = credentials.get_frozen_credentials().access_key
            principal = self._principals.setdefault(key, BASE if not self._principals else f"unknown:{key}")
            error = (parsed.get("Error") or {}).get("Code")
            response = {name: value for name, value in parsed.items() if name != "ResponseMetadata"}
            call_params = context.get("bench_params", {})
            if service == "sts" and model.name == "AssumeRole" and not error:
                self._principals[parsed["Credentials"]["AccessKeyId"]] = f"role:{call_params['RoleArn']}"
            self.calls.append(Call(service, region, principal, model.name, call_params, response, error, self.step))

        events.register_first(
            f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}",
            params,
            unique_id="bench-record-params",
        )
        events.register("after-call", after, unique_id="bench-record-call")


@contextmanager
def recording(base_access_key: str) -> Iterator[Recording]:
    """Record every call of every client ``apps.cloud.api.client`` hands out meanwhile."""
    from apps.cloud import api

    found = Recording()
    found._principals[base_access_key] = BASE
    original = api.client

    def recorded_client(*args: Any, **kwargs: Any) -> Any:
        made = original(*args, **kwargs)
        found.install(made)
        return made

    api.client = recorded_client  # type: ignore[assignment]
    try:
        yield found
    finally:
        found.active = False
        api.client = original  # type: ignore[assignment]


@dataclass
class Replay:
    calls: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    clients_made: int = 0
    client_seconds: float = 0.0
    per_call: list[tuple[float, str]] = field(default_factory=list)


class _Ids:
    """Recorded ids and what the replay got instead."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}

    def learn(self, recorded: Any, replayed: Any) -> None:
        if isinstance(recorded, dict) and isinstance(replayed, dict):
            for name, value in recorded.items():
                if name in replayed:
                    self.learn(value, replayed[name])
        elif isinstance(recorded, list) and isinstance(replayed, list):
            for old, new in zip(recorded, replayed, strict=False):
                self.learn(old, new)
        elif isinstance(recorded, str) and isinstance(replayed, str) and recorded != replayed:
            self._add(recorded, replayed)
            old_parts, new_parts = _SEPARATORS.split(recorded), _SEPARATORS.split(replayed)
            if len(old_parts) == len(new_parts):
                for old, new in zip(old_parts, new_parts, strict=True):
                    if old != new:
                        self._add(old, new)

    def _add(self, old: str, new: str) -> None:
        if len(old) >= _MIN_ID:
            self.exact[old] = new

    def apply(self, value: Any) -> Any:
        """``value`` with every recorded id replaced: whole strings, or the tokens between
        separators (an account id inside an ARN or a policy document)."""
        if isinstance(value, dict):
            return {name: self.apply(item) for name, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        if isinstance(value, str) and self.exact:
            if value in self.exact:
                return self.exact[value]
            return "".join(self.exact.get(part, part) for part in _TOKENS.split(value))
        return value


def replay(
    calls: list[Call], *, endpoint_url: str, base_credentials: dict[str, str], lag: float = 0.0, unique: str = ""
) -> Replay:
    """Make ``calls`` again with plain boto3 clients. The clients of Bespoke's own credentials
    are made before the clock starts; those of assumed roles (known only once the replayed
    AssumeRole answers) are made on the clock and counted, from service models loaded before.
    ``lag`` seconds are slept before every call, as ``--lag`` adds to every call Bespoke makes.
    A call fails when its error code differs from the recorded one. ``unique`` is appended to caller-chosen tokens."""
    session = boto3.Session()
    config = Config(retries={"mode": "standard", "max_attempts": 3})
    credentials: dict[str, dict[str, str]] = {BASE: base_credentials}
    clients: dict[tuple[str, str, str], Any] = {}
    method_names: dict[str, dict[str, str]] = {}
    result = Replay()

    def make(principal: str, service: str, region: str) -> Any:
        made = session.client(
            service, region_name=region, endpoint_url=endpoint_url, config=config, **credentials[principal]
        )
        if service == "s3control":
            made.meta.events.register("before-send.s3-control", _unprefixed_emulator_host)
        clients[(principal, service, region)] = made
        method_names.setdefault(service, _method_names(made))
        return made

    for call in calls:
        if call.principal == BASE and (BASE, call.service, call.region) not in clients:
            make(BASE, call.service, call.region)
    # Service models and endpoint rules are loaded once per session, as Bespoke loads them
    # once per process: a client of every other service is made (and dropped) before the clock.
    for service, region in {(call.service, call.region) for call in calls} - {(s, r) for _, s, r in clients}:
        session.client(service, region_name=region, endpoint_url=endpoint_url, config=config, **base_credentials)

    ids = _Ids()
    for call in calls:
        key = (call.principal, call.service, call.region)
        client = clients.get(key)
        if client is None:
            made_at = time.perf_counter()
            client = make(*key)
            result.clients_made += 1
            result.client_seconds += time.perf_counter() - made_at
        params = ids.apply(call.params)
        params = _unique_tokens(params, unique)
        method: Callable[..., dict[str, Any]] = getattr(client, method_names[call.service][call.operation])
        result.calls += 1
        call_started = time.perf_counter()
        if lag:
            time.sleep(lag)
        try:
            response = method(**params)
            error = None
        except client.exceptions.ClientError as raised:
            response = raised.response
            error = str(raised.response.get("Error", {}).get("Code"))
        result.per_call.append((time.perf_counter() - call_started, f"{call.service}:{call.operation}"))
        if error != call.error:
            result.failed.append(f"{call.service}:{call.operation} {call.error or 'ok'} -> {error or 'ok'}")
        ids.learn(call.response, response)
        if call.service == "sts" and call.operation == "AssumeRole" and not error:
            granted = response["Credentials"]
            credentials[f"role:{call.params['RoleArn']}"] = {
                "aws_access_key_id": granted["AccessKeyId"],
                "aws_secret_access_key": granted["SecretAccessKey"],
                "aws_session_token": granted["SessionToken"],
            }
    # The clock: the calls (and their lag) and the clients made meanwhile, not the
    # benchmark's own bookkeeping (mapping ids).
    result.seconds = sum(seconds for seconds, _ in result.per_call) + result.client_seconds
    return result


def _method_names(client: Any) -> dict[str, str]:
    return {operation: name for name, operation in client.meta.method_to_api_mapping.items()}


_TOKEN_PARAMS = frozenset({"ClientToken", "CallerReference", "ClientRequestToken", "IdempotencyToken"})


def _unique_tokens(params: dict[str, Any], unique: str) -> dict[str, Any]:
    """Idempotency tokens made unique for the replay (the same token would return the
    recorded call's resource instead of making a new one)."""
    if not unique:
        return params
    return {name: f"{value}{unique}" if name in _TOKEN_PARAMS else value for name, value in params.items()}


def _unprefixed_emulator_host(request: Any, **_: Any) -> None:
    request.url = _ACCOUNT_HOST_PREFIX.sub(r"\1", request.url)
