"""A time budget for AWS calls: on Lambda, no attempt of an AWS call starts unless it can
end (``AWS_CONNECT_TIMEOUT`` + ``AWS_READ_TIMEOUT``) before the invocation's time runs out.

The Lambda consumer sets the budget for each record from
``context.get_remaining_time_in_millis()``; every client ``apps.cloud`` makes checks it
before each attempt it sends (botocore's retries included). An attempt that would not fit
raises ``TimeBudgetExhausted`` instead, which ``aws_errors`` makes retryable: the step is
tried again in a later invocation, instead of the function timing out mid-call (which would
return the whole batch). Outside a budget (services mode, tests) nothing is checked.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import botocore.exceptions
from django.conf import settings

_deadline: ContextVar[float | None] = ContextVar("aws_deadline", default=None)


class TimeBudgetExhausted(botocore.exceptions.BotoCoreError):  # type: ignore[misc]  # botocore is untyped
    fmt = "Not enough of the invocation's time left for another AWS attempt ({remaining:.1f} s left)."


def attempt_seconds() -> float:
    """The longest one attempt of an AWS call can take."""
    return float(settings.AWS_CONNECT_TIMEOUT + settings.AWS_READ_TIMEOUT)


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """AWS calls in the block must end within ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def check_before_send(**_: Any) -> None:
    """botocore ``before-send``: refuse an attempt that would outlast the budget."""
    left = remaining()
    if left is not None and left < attempt_seconds():
        raise TimeBudgetExhausted(remaining=max(left, 0.0))
