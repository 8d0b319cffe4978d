"""The workflow context's event handlers. Each is idempotent through the inbox: the
messaging layer claims the message id in the same transaction as the effect."""

import structlog

from apps.accounts.contracts import AccountCommandIssued
from apps.intake.contracts import AccountRequested
from apps.kernel.contracts import StepFailed, StepRetrying, StepSucceeded
from apps.workflow.contracts import ACCOUNT_COMMAND
from apps.workflow.plans import account_creation, plan_from_blueprint, plan_from_steps
from apps.workflow.services import run_start, step_record_failed, step_record_retrying, step_record_succeeded

log = structlog.get_logger(__name__)


def on_account_requested(event: AccountRequested) -> None:
    """Start the request's run from the blueprint the event carries (pinned by intake when
    it accepted the request) — once per request: runs are unique per request id."""
    params = event.run_params()
    blueprint = event.blueprint
    if blueprint is None:
        log.warning("workflow.no_blueprint", payer=event.payer, environment=event.environment)
        run_start(request_id=event.request_id, params=params, plan=account_creation())
        return
    run_start(
        request_id=event.request_id,
        params=params,
        plan=plan_from_blueprint(blueprint["steps"]),
        blueprint_name=str(blueprint["name"]),
        blueprint_version=int(blueprint["version"]),
    )


def on_step_succeeded(event: StepSucceeded) -> None:
    step_record_succeeded(event)


def on_step_retrying(event: StepRetrying) -> None:
    step_record_retrying(event)


def on_step_failed(event: StepFailed) -> None:
    step_record_failed(event)


def on_account_command_issued(event: AccountCommandIssued) -> None:
    """Start the run of a command on an existing account, with the steps and inputs the
    accounts context chose (once per command: runs are unique per request id, and the
    command's id is the run's request id)."""
    run_start(
        request_id=event.command_id,
        params=event.inputs,
        plan=plan_from_steps(event.steps),
        blueprint_name=event.blueprint_name,
        blueprint_version=event.blueprint_version,
        kind=ACCOUNT_COMMAND,
    )
