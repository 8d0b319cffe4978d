"""The intake context follows its requests' runs (and ignores the runs of commands on
existing accounts). Idempotent: each update is a conditional status transition, and the
inbox makes a redelivery a no-op."""

from apps.intake.services import request_mark_failed, request_mark_provisioning, request_mark_succeeded
from apps.workflow.contracts import ACCOUNT_REQUEST, RunFailed, RunStarted, RunSucceeded


def on_run_started(event: RunStarted) -> None:
    if event.kind != ACCOUNT_REQUEST:
        return
    request_mark_provisioning(request_id=event.request_id)


def on_run_succeeded(event: RunSucceeded) -> None:
    if event.kind != ACCOUNT_REQUEST:
        return
    request_mark_succeeded(request_id=event.request_id)


def on_run_failed(event: RunFailed) -> None:
    if event.kind != ACCOUNT_REQUEST:
        return
    request_mark_failed(request_id=event.request_id, failure=f"{event.step}: {event.message}")
