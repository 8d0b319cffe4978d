"""Create or update a CloudFormation stack and wait for it: the one way the deploy tooling
applies a template, safe to run again (an update with nothing to change is a no-op)."""

from collections.abc import Mapping
from typing import Any

import botocore.exceptions

NO_UPDATES = "No updates are to be performed"
WAIT = {"Delay": 10, "MaxAttempts": 360}  # an hour: an Aurora cluster and its proxy take ~15-20 min


class StackFailed(SystemExit):
    """The stack did not reach a complete state; the message names the failed resources."""


def stack_outputs(cloudformation: Any, name: str) -> dict[str, str] | None:
    """The outputs of stack ``name``, or None when it does not exist."""
    stack = _describe(cloudformation, name)
    if stack is None:
        return None
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def apply_stack(
    cloudformation: Any,
    *,
    name: str,
    template: str,
    parameters: Mapping[str, str | None],
    capabilities: tuple[str, ...] = ("CAPABILITY_NAMED_IAM",),
    wait: Mapping[str, int] = WAIT,
) -> dict[str, str]:
    """Create stack ``name`` or update it to ``template``; its outputs once complete.

    A parameter given as None keeps the stack's current value (its template default when
    the stack is created): what an operator set once stays set on the next run.
    """
    stack = _describe(cloudformation, name)
    given: list[dict[str, Any]] = []
    for key, value in sorted(parameters.items()):
        if value is not None:
            given.append({"ParameterKey": key, "ParameterValue": value})
        elif stack is not None:
            given.append({"ParameterKey": key, "UsePreviousValue": True})
    arguments = {"StackName": name, "TemplateBody": template, "Parameters": given, "Capabilities": list(capabilities)}
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        raise StackFailed(
            f"Stack {name} is in ROLLBACK_COMPLETE: its creation failed and it cannot be updated. "
            f"Read its events, delete it (aws cloudformation delete-stack --stack-name {name}) and run again."
        )
    try:
        if stack is None:
            cloudformation.create_stack(**arguments, OnFailure="ROLLBACK")
            waiter = cloudformation.get_waiter("stack_create_complete")
        else:
            cloudformation.update_stack(**arguments)
            waiter = cloudformation.get_waiter("stack_update_complete")
    except botocore.exceptions.ClientError as error:
        if NO_UPDATES not in str(error):
            raise
    else:
        try:
            waiter.wait(StackName=name, WaiterConfig=dict(wait))
        except botocore.exceptions.WaiterError as error:
            raise StackFailed(f"Stack {name} did not complete: {error}\n{_failures(cloudformation, name)}") from error
    outputs = stack_outputs(cloudformation, name)
    assert outputs is not None
    return outputs


def stack_parameters(cloudformation: Any, name: str) -> dict[str, str] | None:
    """The current parameter values of stack ``name``, or None when it does not exist."""
    stack = _describe(cloudformation, name)
    if stack is None:
        return None
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def _describe(cloudformation: Any, name: str) -> dict[str, Any] | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    found: dict[str, Any] | None = stacks[0] if stacks else None
    return found


def _failures(cloudformation: Any, name: str, *, limit: int = 10) -> str:
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("FAILED")][:limit]
    return "\n".join(
        f"  {e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason', '')}" for e in failed
    )
