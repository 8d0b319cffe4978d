"""Fault injection for the emulated AWS: make chosen operations fail, so the real code
paths for failures run end to end.

Set ``AWS_FAULTS`` (or the ``AWS_FAULTS`` setting) to a comma-separated list of rules
``service:Operation:ErrorCode[:probability]``, for example::

    AWS_FAULTS="ec2:CreateInternetGateway:AccessDenied"              # always fails
    AWS_FAULTS="organizations:*:TooManyRequestsException:0.3"         # 30% of calls throttled
    AWS_FAULTS="*:*:lag=0.05"                                         # every call 50 ms slower

A matching call raises the ``ClientError`` AWS would send (status 400, or 500/503 for
server errors) before any request is made, through botocore's ``before-call`` event
hook; a ``lag=<seconds>`` rule delays the call instead, like a distant endpoint.
Never set it in production.
"""

import time

import random
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

_SERVER_SIDE = {
    "InternalError": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
}


class InvalidFaultRule(ValueError):
    pass


@dataclass(frozen=True)
class FaultRule:
    service: str
    operation: str  # "*" for every operation of the service
    error_code: str  # or "lag=<seconds>"
    probability: float = 1.0

    @property
    def lag_seconds(self) -> float | None:
        return float(self.error_code.removeprefix("lag=")) if self.error_code.startswith("lag=") else None

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)


def parse_rules(spec: str) -> tuple[FaultRule, ...]:
    rules = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        parts = item.split(":")
        if len(parts) not in (3, 4) or not all(parts[:3]):
            raise InvalidFaultRule(f"Fault rule {item!r} is not service:Operation:ErrorCode[:probability].")
        probability = float(parts[3]) if len(parts) == 4 else 1.0
        if not 0 < probability <= 1:
            raise InvalidFaultRule(f"Fault rule {item!r}: probability must be in (0, 1].")
        rule = FaultRule(parts[0], parts[1], parts[2], probability)
        try:
            lag = rule.lag_seconds
        except ValueError:
            raise InvalidFaultRule(f"Fault rule {item!r}: lag must be a number of seconds.") from None
        if lag is not None and not 0 <= lag <= 60:
            raise InvalidFaultRule(f"Fault rule {item!r}: lag must be between 0 and 60 seconds.")
        rules.append(rule)
    return tuple(rules)


def install(client: Any, rules: tuple[FaultRule, ...]) -> None:
    """Make ``client`` fail the operations ``rules`` name."""
    service = client.meta.service_model.service_name
    relevant = [rule for rule in rules if rule.service in ("*", service)]
    if not relevant:
        return

    def inject(model: Any, **_: Any) -> None:
        for rule in relevant:
            if not rule.matches(service, model.name) or random.random() >= rule.probability:
                continue
            lag = rule.lag_seconds
            if lag is not None:
                time.sleep(lag)
            else:
                raise botocore.exceptions.ClientError(
                    {
                        "Error": {"Code": rule.error_code, "Message": f"Injected fault ({rule.error_code})."},
                        "ResponseMetadata": {"HTTPStatusCode": _SERVER_SIDE.get(rule.error_code, 400)},
                    },
                    model.name,
                )

    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}", inject)
