"""The declared steps of kind ``http``: each POSTs the account's details to an
operator-configured endpoint and succeeds on its 2xx answer, or on its callback
(``calls``). The original's ``AD_DL``, ``AD_SEC_GROUPS`` and ``CLOUDABILITY`` tasks are
such steps."""

from collections.abc import Mapping
from typing import Any

from apps.kernel.contracts import PlanFacts
from apps.kernel.steps import StepContext
from apps.kernel.steptools import invalid_params, merged_params, request_regions
from apps.notifications.integrations.calls import call_follow

HTTP = "http"


def _defaults(endpoint: str) -> dict[str, Any]:
    return {
        "kind": HTTP,  # the only kind there is
        "endpoint": endpoint,  # a name in INTEGRATION_ENDPOINTS
        "deadline_minutes": 60,  # how long a 202 may wait for its callback
        "poll_seconds": 10,  # how often the step looks for the callback meanwhile
    }


AD_DISTRIBUTION_LIST_DEFAULT_PARAMS: dict[str, Any] = _defaults("active-directory")
AD_SECURITY_GROUPS_DEFAULT_PARAMS: dict[str, Any] = _defaults("active-directory")
CLOUDABILITY_DEFAULT_PARAMS: dict[str, Any] = _defaults("cloudability")
DEFAULT_PARAMS: dict[str, Mapping[str, Any]] = {
    "ad_distribution_list": AD_DISTRIBUTION_LIST_DEFAULT_PARAMS,
    "ad_security_groups": AD_SECURITY_GROUPS_DEFAULT_PARAMS,
    "cloudability": CLOUDABILITY_DEFAULT_PARAMS,
}


def check_params(step: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    params = merged_params(step, given, DEFAULT_PARAMS[step])
    if params["kind"] != HTTP:
        raise invalid_params(step, f"kind must be {HTTP!r}, not {params['kind']!r}.")
    if not isinstance(params["endpoint"], str) or not params["endpoint"]:
        raise invalid_params(step, "endpoint must name an integration endpoint.")
    for key, (low, high) in {"deadline_minutes": (1, 7 * 24 * 60), "poll_seconds": (1, 900)}.items():
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise invalid_params(step, f"{key} must be a number from {low} to {high}, not {value!r}.")
    return params


def describe(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    endpoint = (given or {}).get("endpoint") or "its configured"
    return [f"the account's details POSTed (signed) to {endpoint} endpoint; done on 2xx or on its callback"]


def _payload(step: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What the endpoint learns: the account and the request it was made for."""
    return {
        "type": "step.requested",
        "step": step,
        "request_id": inputs.get("request_id"),
        "account": {
            "id": inputs.get("account_id"),
            "email": inputs.get("account_email"),
            "name": inputs.get("account_name"),
            "alias": inputs.get("account_alias"),
        },
        "payer": inputs.get("payer"),
        "environment": inputs.get("environment"),
        "regions": request_regions(inputs) if inputs.get("region") else [],
        "tags": dict(inputs.get("tags") or {}),
        "user_access_list": list(inputs.get("user_access_list") or []),
        "technical_contact": dict(inputs.get("technical_contact") or {}),
        "requestor": dict(inputs.get("requestor") or {}),
    }


def http_step(context: StepContext) -> dict[str, Any]:
    """POST the account's details to the step's endpoint; done on a 2xx answer, or on the
    endpoint's ``complete`` callback after a 202 (its outputs become the step's), within
    ``deadline_minutes``.

    Idempotent: one call per run and step (a row, opened before the POST); a repeated POST
    (its answer lost) carries the same call id and callback token, so the endpoint can
    tell; while waiting, the step only reads the call.
    """
    params = check_params(context.step, context.inputs.get("step_params"))
    return call_follow(
        run_id=context.run_id,
        step=context.step,
        request_id=str(context.inputs.get("request_id") or ""),
        endpoint=str(params["endpoint"]),
        payload=_payload(context.step, context.inputs),
        deadline_minutes=float(params["deadline_minutes"]),
        poll_seconds=float(params["poll_seconds"]),
    )
