"""Every AWS call is a span of the current trace (a child of the step that makes it),
made from botocore's own events, installed once on each client Bespoke makes. With
tracing off the hooks return at their first line."""

from typing import Any

from apps.kernel import tracing

_KEY = "bespoke_span"


def install(client: Any) -> None:
    service = client.meta.service_model.service_name
    service_id = client.meta.service_model.service_id.hyphenize()
    region = client.meta.region_name or ""

    def before_call(*, model: Any, context: dict[str, Any], **_: Any) -> None:
        span = tracing.start_span(
            f"{service_id}.{model.name}",
            kind="client",
            attributes={
                "rpc.system": "aws-api",
                "rpc.service": service,
                "rpc.method": model.name,
                "cloud.region": region,
            },
        )
        if span is not None:
            context[_KEY] = span
        # None: botocore goes on to make the call (a value here would answer it instead).

    def after_call(*, parsed: dict[str, Any], context: dict[str, Any], http_response: Any = None, **_: Any) -> None:
        span = context.pop(_KEY, None)
        if span is None:
            return
        metadata = parsed.get("ResponseMetadata") or {}
        if metadata.get("RequestId"):
            span.set_attribute("aws.request_id", str(metadata["RequestId"]))
        if metadata.get("RetryAttempts"):
            span.set_attribute("aws.retry_attempts", int(metadata["RetryAttempts"]))
        status = getattr(http_response, "status_code", None)
        if status is not None:
            span.set_attribute("http.response.status_code", int(status))
        code = (parsed.get("Error") or {}).get("Code")
        if code:
            span.set_attribute("aws.error_code", str(code))
            tracing.set_error(span, str(code))
        span.end()

    def after_call_error(*, exception: BaseException, context: dict[str, Any], **_: Any) -> None:
        span = context.pop(_KEY, None)
        if span is None:
            return
        span.record_exception(exception)
        tracing.set_error(span, type(exception).__name__)
        span.end()

    client.meta.events.register_first(f"before-call.{service_id}", before_call)
    client.meta.events.register(f"after-call.{service_id}", after_call)
    client.meta.events.register(f"after-call-error.{service_id}", after_call_error)
