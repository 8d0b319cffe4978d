"""Every AWS call counted from botocore's own events (``bespoke_aws_calls`` by service,
operation and error code; ``bespoke_aws_retries``; ``bespoke_aws_throttles``): installed
once on each client Bespoke makes, so no call site has to remember it."""

from typing import Any

from apps.kernel import metrics

# AWS's ways of saying "too many requests" (every one also retryable: apps.cloud.api).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)


def install(client: Any) -> None:
    service = client.meta.service_model.service_name
    service_id = client.meta.service_model.service_id.hyphenize()

    def after_call(*, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        code = (parsed.get("Error") or {}).get("Code") or "ok"
        metrics.inc("bespoke_aws_calls", service=service, operation=model.name, code=code)
        retries = int((parsed.get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
        if retries:
            metrics.inc("bespoke_aws_retries", retries, service=service, operation=model.name)

    def after_call_error(*, exception: BaseException, event_name: str, **_: Any) -> None:
        # No answer at all (a connection refused, a timeout, no time budget left), after
        # botocore's retries; botocore names the operation only in the event's name.
        operation = event_name.rsplit(".", 1)[-1]
        metrics.inc("bespoke_aws_calls", service=service, operation=operation, code=type(exception).__name__)

    def attempt(*, response: Any = None, operation: Any = None, **_: Any) -> None:
        if response is None or operation is None:
            return
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
        code = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        if code in THROTTLING_CODES:
            metrics.inc("bespoke_aws_throttles", service=service, operation=operation.name)

    client.meta.events.register(f"after-call.{service_id}", after_call)
    client.meta.events.register(f"after-call-error.{service_id}", after_call_error)
    client.meta.events.register_first(f"needs-retry.{service_id}", attempt)
