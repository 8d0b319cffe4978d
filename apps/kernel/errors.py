"""Errors every context raises and the API renders.

``ApplicationError`` is an expected, explained failure with a stable machine-readable
``code``. Steps and handlers raise ``RetryableError`` for what may succeed later
(throttling, eventual consistency, timeouts) and ``PermanentError`` for what will not.
"""

from typing import Any


class ApplicationError(Exception):
    code = "application_error"
    status_code = 400

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if code is not None:
            self.code = code


class NotFound(ApplicationError):
    code = "not_found"
    status_code = 404


class Forbidden(ApplicationError):
    """The caller is known but may not do this (403)."""

    code = "forbidden"
    status_code = 403


class FourEyes(Forbidden):
    """Whoever asked for something cannot also approve it."""

    code = "four_eyes"


class Conflict(ApplicationError):
    code = "conflict"
    status_code = 409


class StepError(Exception):
    """A step could not finish; ``code`` preserves the cause (e.g. the AWS error code)."""

    retryable = False

    def __init__(self, message: str, *, code: str = "step_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class RetryableError(StepError):
    retryable = True


class PermanentError(StepError):
    retryable = False


class InvalidStepParams(PermanentError):
    """A blueprint gave a step parameters it does not take, or values it cannot use."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_step_params")


class WaitForQuota(RetryableError):
    """Not a failure: the step must wait for its turn under a shared quota (e.g. at most
    five account creations in flight per organization). It is tried again after
    ``delay`` seconds, and waiting does not use up the step's attempts."""

    def __init__(self, message: str, *, delay: float, code: str = "quota_wait") -> None:
        super().__init__(message, code=code)
        self.delay = delay


class StillInProgress(WaitForQuota):
    """Not a failure: something the step started outside is still under way (an account
    Organizations is creating). Tried again after ``delay`` seconds without using up an
    attempt, like a quota wait; the step bounds the wait itself, with a deadline."""
