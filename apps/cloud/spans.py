"""Every AWS call is a span of the current trace (a child of the step that makes it),
made from botocore's own events, installed once on each client Bespoke makes. With
tracing off, or in a trace that is not sampled, the hooks return at their first lines
and build nothing."""

from typing import Any

from apps.kernel import tracing

_KEY = "bespoke_span"


def install(client: Any) -> None:
    service = client.meta.service_model.service_name
    service_id = client.meta.service_model.service_id.hyphenize()
    region = client.meta.region_name or ""
    # A span's name and attributes depend only on the operation: made once per operation
    # and client, not on every call (the SDK copies the attributes into the span).
    by_operation: dict[str, tuple[str, dict[str, str]]] = {}

    def before_call(*, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not tracing.enabled():
            return  # None: botocore goes on to make the call (a value would answer it instead)
        operation = model.name
        named = by_operation.get(operation)
        if named is None:
            attributes = {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": operation}
            if region:
                attributes["cloud.region"] = region
            named = by_operation[operation] = (f"{service_id}.{operation}", attributes)
        span = tracing.start_span(named[0], kind="client", attributes=named[1])
        if span is not None:
            context[_KEY] = span

    def after_call(*, parsed: dict[str, Any], context: dict[str, Any], http_response: Any = None, **_: Any) -> None:
        span = context.pop(_KEY, None)
        if span is None:
            return
        metadata = parsed.get("ResponseMetadata") or {}
        values: dict[str, Any] = {}
        if metadata.get("RequestId"):
            values["aws.request_id"] = str(metadata["RequestId"])
        if metadata.get("RetryAttempts"):
            values["aws.retry_attempts"] = int(metadata["RetryAttempts"])
        code = (parsed.get("Error") or {}).get("Code")
        if code:
            # The HTTP status only says more than "200" on a refusal.
            status = getattr(http_response, "status_code", None)
            if status is not None:
                values["http.response.status_code"] = int(status)
            values["aws.error_code"] = str(code)
            tracing.set_error(span, str(code))
        if values:
            span.set_attributes(values)
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
