"""Create or update a stage's queues, dead-letter queues, event source mappings and IAM
roles (``deploy/cloudformation/queues.yaml``) — what Zappa cannot set up.

    python -m deploy.apply_queues dev            # before the first `zappa deploy dev`, and after it
    python -m deploy.apply_queues production --management-role-arn arn:aws:iam::111111111111:role/Bespoke

Every parameter comes from ``zappa_settings.json``: the function names (Zappa's
``<project>-<stage>``), the timeout (queues' visibility timeout = 6 x the longest function
timeout), the secret (``BESPOKE_SECRETS_ID``), SnapStart (mappings then target the
``snapstart`` alias). A peeled function is the stage ``<stage>-network``: once it is
deployed, ``q.network``'s mapping points at it instead of the monolith.

Run it before the first ``zappa deploy`` (the roles Zappa's stages name must exist; no
function exists yet, so no mapping is made) and again after it (the mappings appear).
"""

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "cloudformation" / "queues.yaml"
SETTINGS = ROOT / "zappa_settings.json"
# AWS's advice for SQS event sources: visibility timeout >= 6 x the function's timeout.
VISIBILITY_FACTOR = 6
SNAPSTART_ALIAS = "snapstart"  # the alias Zappa keeps on the newest snapshot (zappa.core.SNAPSTART_LAMBDA_ALIAS)
PEELED = {"network": "NetworkFunction"}


def stage_settings(stage: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A stage's settings with its ``extends`` chain applied, as Zappa does (shallow)."""
    if stage not in settings:
        raise SystemExit(f"No stage {stage!r} in zappa_settings.json.")
    parent = settings[stage].get("extends")
    merged = stage_settings(parent, settings) if parent else {}
    merged.update(settings[stage])
    return merged


def function_name(stage: str, settings: dict[str, Any]) -> str:
    """Zappa's Lambda function name: the slug of ``<project_name>-<stage>``."""
    project = stage_settings(stage, settings)["project_name"]
    return re.sub(r"[^a-z0-9]+", "-", f"{project}-{stage}".lower()).strip("-")


def snap_start(config: dict[str, Any]) -> bool:
    return config.get("snap_start", "None") not in (None, "None")


@dataclass(frozen=True)
class Plan:
    stack_name: str
    parameters: dict[str, str]
    waiting_for: list[str]  # functions not deployed yet (their mappings come on the next run)


def plan(
    stage: str, *, settings: dict[str, Any], lambda_client: Any, management_role_arns: list[str] | None = None
) -> Plan:
    config = stage_settings(stage, settings)
    name = function_name(stage, settings)
    timeouts = [int(config.get("timeout_seconds", 30))]
    secret = config.get("aws_environment_variables", {}).get("BESPOKE_SECRETS_ID")
    if not secret:
        raise SystemExit(f"Stage {stage} sets no BESPOKE_SECRETS_ID in aws_environment_variables.")
    parameters = {
        "StageName": name,
        "SecretName": secret,
        "ManagementRoleArns": ",".join(management_role_arns or []),
    }
    waiting: list[str] = []
    parameters["MonolithFunction"] = _target(lambda_client, name, config, waiting)
    for context, parameter in PEELED.items():
        peeled_stage = f"{stage}-{context}"
        if peeled_stage in settings:
            peeled = stage_settings(peeled_stage, settings)
            timeouts.append(int(peeled.get("timeout_seconds", 30)))
            parameters[parameter] = _target(lambda_client, function_name(peeled_stage, settings), peeled, waiting)
        else:
            parameters[parameter] = ""
    parameters["VisibilityTimeoutSeconds"] = str(VISIBILITY_FACTOR * max(timeouts))
    return Plan(stack_name=f"{name}-queues", parameters=parameters, waiting_for=waiting)


def _target(lambda_client: Any, name: str, config: dict[str, Any], waiting: list[str]) -> str:
    """What a mapping invokes: the function, or its SnapStart alias (SnapStart only applies
    to published versions; a mapping on the bare name would run $LATEST, unsnapshotted)."""
    try:
        lambda_client.get_function(FunctionName=name)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        waiting.append(name)
        return ""
    if snap_start(config):
        try:
            lambda_client.get_alias(FunctionName=name, Name=SNAPSTART_ALIAS)
            return f"{name}:{SNAPSTART_ALIAS}"
        except botocore.exceptions.ClientError:
            print(
                f"warning: {name} has SnapStart but no {SNAPSTART_ALIAS!r} alias yet; mapping $LATEST", file=sys.stderr
            )
    return name


def apply(plan_: Plan, *, cloudformation: Any, template: str | None = None) -> dict[str, str]:
    """Create or update the stack; its outputs."""
    body = template if template is not None else TEMPLATE.read_text()
    arguments = {
        "StackName": plan_.stack_name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(plan_.parameters.items())],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    try:
        cloudformation.describe_stacks(StackName=plan_.stack_name)
        exists = True
    except botocore.exceptions.ClientError:
        exists = False
    try:
        if exists:
            cloudformation.update_stack(**arguments)
            waiter = cloudformation.get_waiter("stack_update_complete")
        else:
            cloudformation.create_stack(**arguments, OnFailure="ROLLBACK")
            waiter = cloudformation.get_waiter("stack_create_complete")
        waiter.wait(StackName=plan_.stack_name, WaiterConfig={"Delay": 5, "MaxAttempts": 180})
    except botocore.exceptions.ClientError as error:
        if "No updates are to be performed" not in str(error):
            raise
    [stack] = cloudformation.describe_stacks(StackName=plan_.stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", help="the monolith's Zappa stage (dev, production)")
    parser.add_argument("--settings", type=Path, default=SETTINGS)
    parser.add_argument("--management-role-arn", action="append", default=[], dest="management_role_arns")
    parser.add_argument("--dry-run", action="store_true", help="print the parameters, change nothing")
    args = parser.parse_args(argv)
    settings = json.loads(args.settings.read_text())
    region = stage_settings(args.stage, settings).get("aws_region")
    the_plan = plan(
        args.stage,
        settings=settings,
        lambda_client=boto3.client("lambda", region_name=region),
        management_role_arns=args.management_role_arns,
    )
    print(json.dumps({"stack": the_plan.stack_name, "parameters": the_plan.parameters}, indent=2))
    if args.dry_run:
        return 0
    outputs = apply(the_plan, cloudformation=boto3.client("cloudformation", region_name=region))
    print(json.dumps(outputs, indent=2))
    for name in the_plan.waiting_for:
        print(f"{name} is not deployed yet: run this again after `zappa deploy` to map its queues.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
