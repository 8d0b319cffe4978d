"""Fault injection for the emulated AWS: make chosen operations fail, so the real code
paths for failures run end to end.

Set ``AWS_FAULTS`` (or the ``AWS_FAULTS`` setting) to a comma-separated list of rules
``service:Operation:Fault[:probability]``, for example::

    AWS_FAULTS="ec2:CreateInternetGateway:AccessDenied"              # always fails
    AWS_FAULTS="organizations:*:TooManyRequestsException:0.3"         # 30% of calls throttled
    AWS_FAULTS="*:*:lag=0.05"                                         # every call 50 ms slower
    AWS_FAULTS="organizations:DescribeCreateAccountStatus:in_progress=3"
    AWS_FAULTS="organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS"

The fault is one of:

- an AWS error code: a matching call gets the error answer AWS would send (status 400,
  or 500/503 for server errors; the body in the service's own protocol) instead of
  reaching the emulator, through botocore's ``before-send`` event hook — so botocore
  parses it and its retry handler retries throttling and server errors like real ones;
- ``lag=<seconds>``: the call is delayed instead, like a distant endpoint;
- ``in_progress=<N>`` (``organizations:DescribeCreateAccountStatus`` only): the first N
  polls of each CreateAccountRequestId report the creation ``IN_PROGRESS`` (no AccountId)
  — the emulator itself reports every creation SUCCEEDED at once;
- ``failed=<REASON>`` on ``organizations:CreateAccount``: the creation is reported
  ``FAILED`` with FailureReason REASON in CreateAccount's answer and in every later
  DescribeCreateAccountStatus answer for that request; on
  ``organizations:DescribeCreateAccountStatus``: CreateAccount answers as usual and the
  polls report FAILED (after any ``in_progress`` polls), as AWS does when a creation
  fails after it was accepted.

``in_progress`` and ``failed`` rewrite the emulator's parsed answer in place through
botocore's ``after-call`` hook, so the request really reaches the emulator (which did
create the account: it stays in ListAccounts, unlike in AWS) and the client code parses
a genuine response. With a probability, each CreateAccountRequestId is picked once.
What they remember — polls counted per request, requests reported failed — lives in
the memory of each process: with several worker processes each counts its own polls
(at most N per process), and a request whose creation was failed by a CreateAccount
rule is reported FAILED only by polls made in the process that created it (the step
that creates it fails at once, so nothing polls it elsewhere). ``reset()`` forgets it.

Never set it in production.
"""

import json
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

_SERVER_SIDE = {
    "InternalError": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
}
_CREATE = ("organizations", "CreateAccount")
_DESCRIBE = ("organizations", "DescribeCreateAccountStatus")
# Where each answer-rewriting fault may be set.
_RESPONSE_FAULT_TARGETS = {"in_progress": {_DESCRIBE}, "failed": {_CREATE, _DESCRIBE}}
_FAILURE_REASON = re.compile(r"^[A-Z][A-Z_]{0,63}$")


class InvalidFaultRule(ValueError):
    pass


@dataclass(frozen=True)
class FaultRule:
    service: str
    operation: str  # "*" for every operation of the service
    error_code: str  # an AWS error code, or "lag=<seconds>", "in_progress=<N>", "failed=<REASON>"
    probability: float = 1.0

    @property
    def kind(self) -> str:
        """``error``, ``lag``, ``in_progress`` or ``failed``."""
        prefix, equals, _ = self.error_code.partition("=")
        return prefix if equals and prefix in ("lag", "in_progress", "failed") else "error"

    @property
    def argument(self) -> str:
        return self.error_code.partition("=")[2]

    @property
    def lag_seconds(self) -> float | None:
        return float(self.argument) if self.kind == "lag" else None

    @property
    def in_progress_polls(self) -> int | None:
        return int(self.argument) if self.kind == "in_progress" else None

    @property
    def failure_reason(self) -> str | None:
        return self.argument if self.kind == "failed" else None

    @property
    def rewrites_response(self) -> bool:
        return self.kind in _RESPONSE_FAULT_TARGETS

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)


def parse_rules(spec: str) -> tuple[FaultRule, ...]:
    rules = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        parts = item.split(":")
        if len(parts) not in (3, 4) or not all(parts[:3]):
            raise InvalidFaultRule(f"Fault rule {item!r} is not service:Operation:Fault[:probability].")
        try:
            probability = float(parts[3]) if len(parts) == 4 else 1.0
        except ValueError:
            raise InvalidFaultRule(f"Fault rule {item!r}: probability must be a number.") from None
        if not 0 < probability <= 1:
            raise InvalidFaultRule(f"Fault rule {item!r}: probability must be in (0, 1].")
        rule = FaultRule(parts[0], parts[1], parts[2], probability)
        _check(rule, item)
        rules.append(rule)
    return tuple(rules)


def _check(rule: FaultRule, item: str) -> None:
    if rule.kind == "lag":
        try:
            lag = float(rule.argument)
        except ValueError:
            raise InvalidFaultRule(f"Fault rule {item!r}: lag must be a number of seconds.") from None
        if not 0 <= lag <= 60:
            raise InvalidFaultRule(f"Fault rule {item!r}: lag must be between 0 and 60 seconds.")
        return
    if rule.kind == "error":
        return
    targets = _RESPONSE_FAULT_TARGETS[rule.kind]
    if (rule.service, rule.operation) not in targets:
        allowed = " or ".join(sorted(f"{service}:{operation}" for service, operation in targets))
        raise InvalidFaultRule(f"Fault rule {item!r}: {rule.kind}= applies to {allowed} only.")
    if rule.kind == "in_progress" and not (rule.argument.isdigit() and int(rule.argument) <= 1000):
        raise InvalidFaultRule(f"Fault rule {item!r}: in_progress must be a number of polls (0-1000).")
    if rule.kind == "failed" and not _FAILURE_REASON.match(rule.argument):
        raise InvalidFaultRule(f"Fault rule {item!r}: failed needs a FailureReason such as EMAIL_ALREADY_EXISTS.")


class _Memory:
    """What answer-rewriting faults remember between calls, in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failed: dict[str, str] = {}  # CreateAccountRequestId -> FailureReason
        self.polls_left: dict[tuple[FaultRule, str], int] = {}
        self.picked: dict[tuple[FaultRule, str], bool] = {}

    def pick(self, rule: FaultRule, request_id: str) -> bool:
        """Whether ``rule`` applies to this request: decided once per request."""
        key = (rule, request_id)
        if key not in self.picked:
            self.picked[key] = random.random() < rule.probability
        return self.picked[key]


_memory = _Memory()


def reset() -> None:
    """Forget the polls counted and the creations reported failed (tests call this)."""
    global _memory
    _memory = _Memory()


def install(client: Any, rules: tuple[FaultRule, ...]) -> None:
    """Make ``client`` fail the operations ``rules`` name."""
    service = client.meta.service_model.service_name
    relevant = [rule for rule in rules if rule.service in ("*", service)]
    call_rules = [rule for rule in relevant if not rule.rewrites_response]
    answer_rules = [rule for rule in relevant if rule.rewrites_response]
    service_id = client.meta.service_model.service_id.hyphenize()

    protocol = client.meta.service_model.protocol

    def delay(model: Any, **_: Any) -> None:
        for rule in call_rules:
            lag = rule.lag_seconds
            if lag is not None and rule.matches(service, model.name) and random.random() < rule.probability:
                time.sleep(lag)

    def answer_with_error(request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        for rule in call_rules:
            if rule.lag_seconds is not None or not rule.matches(service, operation):
                continue
            if random.random() < rule.probability:
                return _error_answer(protocol, request.url, rule.error_code)
        return None

    def rewrite(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if getattr(http_response, "status_code", 200) >= 300 or not isinstance(parsed, dict):
            return
        _rewrite_answer(service, model.name, parsed, answer_rules)

    if call_rules:
        client.meta.events.register(f"before-call.{service_id}", delay)
        client.meta.events.register(f"before-send.{service_id}", answer_with_error)
    if answer_rules:
        client.meta.events.register(f"after-call.{service_id}", rewrite)


def _rewrite_answer(service: str, operation: str, parsed: dict[str, Any], rules: list[FaultRule]) -> None:
    status = parsed.get("CreateAccountStatus")
    if (service, operation) not in (_CREATE, _DESCRIBE) or not isinstance(status, dict) or "Id" not in status:
        return
    request_id = str(status["Id"])
    matching = [rule for rule in rules if rule.matches(service, operation)]
    memory = _memory
    with memory.lock:
        if operation == _CREATE[1]:
            for rule in matching:
                if rule.failure_reason is not None and memory.pick(rule, request_id):
                    memory.failed.setdefault(request_id, rule.failure_reason)
        # A creation failed (by CreateAccount, or an earlier poll) stays failed.
        if request_id in memory.failed:
            _report_failed(status, memory.failed[request_id])
            return
        if operation != _DESCRIBE[1]:
            return
        # As in AWS, a creation is in progress for a while before it ends, well or not.
        for rule in matching:
            polls = rule.in_progress_polls
            if polls is None or not memory.pick(rule, request_id):
                continue
            left = memory.polls_left.setdefault((rule, request_id), polls)
            if left > 0:
                memory.polls_left[(rule, request_id)] = left - 1
                _report_in_progress(status)
                return
        for rule in matching:
            if rule.failure_reason is not None and memory.pick(rule, request_id):
                memory.failed[request_id] = rule.failure_reason
                _report_failed(status, rule.failure_reason)
                return


def _report_failed(status: dict[str, Any], reason: str) -> None:
    status["State"] = "FAILED"
    status["FailureReason"] = reason
    status.pop("AccountId", None)


def _report_in_progress(status: dict[str, Any]) -> None:
    status["State"] = "IN_PROGRESS"
    for field in ("AccountId", "CompletedTimestamp", "FailureReason"):
        status.pop(field, None)


class _Body:
    """What botocore reads an HTTP body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _error_answer(protocol: str, url: str, code: str) -> AWSResponse:
    """The HTTP answer AWS gives for error ``code``, in the service's protocol."""
    message = f"Injected fault ({code})."
    request_id = "injected-fault"
    headers = {"x-amzn-RequestId": request_id}
    if protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "rest-json":
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"message": message}).encode()
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
    else:  # query, rest-xml
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    return AWSResponse(url, _SERVER_SIDE.get(code, 400), headers, _Body(body))
