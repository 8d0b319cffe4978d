"""Create or update a stage's queues, dead-letter queues, event source mappings and IAM
roles (``deploy/cloudformation/queues.yaml``) — what Zappa cannot set up.

    python -m deploy.apply_queues dev            # before the first `zappa deploy dev`, and after it
    python -m deploy.apply_queues production --management-role-arn arn:aws:iam::111111111111:role/Bespoke \
        --organization-id o-aaaaaaaaaa --organization-id o-bbbbbbbbbb --operator-email ops@example.com

Every parameter comes from ``zappa_settings.json``: the function names (Zappa's
``<project>-<stage>``), the timeout (queues' visibility timeout = 6 x the longest function
timeout; ``maxReceiveCount`` from the shortest, see ``max_receive_count``), the secret
(``BESPOKE_SECRETS_ID``), SnapStart (mappings then target the ``snapstart`` alias). A
peeled function is the stage ``<stage>-network``: once it is deployed, ``q.network``'s
mapping points at it instead of the monolith.

Run it before the first ``zappa deploy`` (the roles Zappa's stages name must exist; no
function exists yet, so no mapping is made) and again after it (the mappings appear).
``python -m deploy up <stage>`` does both, with the foundation (``foundation.py``).

The payers' Organizations (``--organization-id``) bound which roles the functions may
assume and which accounts they may move, tag or close: without the option, the stack's
current value stays, and a new stack takes the deploying account's own Organization. The
operators' e-mail (``--operator-email``) stays too once set. The database permission
(``rds-db:connect``) comes from the stage's foundation stack when it exists.
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

from deploy import stacks

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "cloudformation" / "queues.yaml"
SETTINGS = ROOT / "zappa_settings.json"
# AWS's advice for SQS event sources: visibility timeout >= 6 x the function's timeout.
VISIBILITY_FACTOR = 6
# What one record needs of an invocation on Lambda: one AWS attempt (the serverless
# settings' AWS_CONNECT_TIMEOUT + AWS_READ_TIMEOUT, 3 + 10 s) and the consumer's reserve.
RECORD_SECONDS = 15
BATCH_SIZE = 10


def max_receive_count(timeout_seconds: int) -> int:
    """Deliveries of a message before its queue's DLQ, from the function's timeout: a
    record returned unstarted (its batch ran out of time) counts as a receive, so allow
    twice the invocations a full batch may need to start every record, and at least 5."""
    invocations = -(-BATCH_SIZE * RECORD_SECONDS // max(timeout_seconds, 1))
    return max(5, 2 * invocations)


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


def secret_name(stage: str, settings: dict[str, Any]) -> str:
    secret = stage_settings(stage, settings).get("aws_environment_variables", {}).get("BESPOKE_SECRETS_ID")
    if not secret:
        raise SystemExit(f"Stage {stage} sets no BESPOKE_SECRETS_ID in aws_environment_variables.")
    return str(secret)


def stack_name(stage: str, settings: dict[str, Any]) -> str:
    return f"{function_name(stage, settings)}-queues"


@dataclass(frozen=True)
class Plan:
    stack_name: str
    parameters: dict[str, str | None]  # None: keep the stack's current value
    waiting_for: list[str]  # functions not deployed yet (their mappings come on the next run)


def plan(
    stage: str,
    *,
    settings: dict[str, Any],
    lambda_client: Any,
    organization_ids: list[str] | None,
    management_role_arns: list[str] | None = None,
    operator_email: str | None = None,
    database_connect_arn: str = "",
) -> Plan:
    """The queues stack of monolith stage ``stage``. ``organization_ids`` and
    ``operator_email`` left as None keep the stack's current values."""
    config = stage_settings(stage, settings)
    name = function_name(stage, settings)
    timeouts = [int(config.get("timeout_seconds", 30))]
    parameters: dict[str, str | None] = {
        "StageName": name,
        "SecretName": secret_name(stage, settings),
        "ManagementRoleArns": ",".join(management_role_arns or []),
        "OrganizationIds": ",".join(organization_ids) if organization_ids else None,
        "OperatorEmail": operator_email,
        "DatabaseConnectArn": database_connect_arn,
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
    parameters["MaxReceiveCount"] = str(max_receive_count(min(timeouts)))
    return Plan(stack_name=stack_name(stage, settings), parameters=parameters, waiting_for=waiting)


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
    parameters = dict(plan_.parameters)
    if stacks.stack_outputs(cloudformation, plan_.stack_name) is None:
        if parameters.get("OrganizationIds") is None:
            raise SystemExit(f"{plan_.stack_name} does not exist yet: name the payers' Organizations (o-…).")
        # Given from the start, so that later runs can keep it (UsePreviousValue).
        parameters["OperatorEmail"] = parameters.get("OperatorEmail") or ""
    return stacks.apply_stack(cloudformation, name=plan_.stack_name, template=body, parameters=parameters)


def own_organization_id(organizations: Any) -> str:
    """The Organization of the deploying account (where Bespoke runs in a payer's own)."""
    try:
        return str(organizations.describe_organization()["Organization"]["Id"])
    except botocore.exceptions.ClientError as error:
        raise SystemExit(
            f"Could not read this account's Organization ({error}); name the payers' with --organization-id."
        ) from error


def organization_ids_for(given: list[str], *, cloudformation: Any, organizations: Any, stack: str) -> list[str] | None:
    """The Organizations to name: those given; else None (the stack keeps its own); for a
    new stack, the deploying account's."""
    if given:
        return given
    if stacks.stack_outputs(cloudformation, stack) is not None:
        return None
    return [own_organization_id(organizations)]


def foundation_connect_arn(stage: str, settings: dict[str, Any], *, cloudformation: Any) -> str:
    """foundation.yaml's DatabaseConnectArn for the stage, when its stack exists."""
    outputs = stacks.stack_outputs(cloudformation, f"{function_name(stage, settings)}-foundation") or {}
    return outputs.get("DatabaseConnectArn", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", help="the monolith's Zappa stage (dev, production)")
    parser.add_argument("--settings", type=Path, default=SETTINGS)
    parser.add_argument("--management-role-arn", action="append", default=[], dest="management_role_arns")
    parser.add_argument("--organization-id", action="append", default=[], dest="organization_ids")
    parser.add_argument("--operator-email", default=None, help="subscribed to the operators' alarms topic")
    parser.add_argument("--dry-run", action="store_true", help="print the parameters, change nothing")
    args = parser.parse_args(argv)
    settings = json.loads(args.settings.read_text())
    region = stage_settings(args.stage, settings).get("aws_region")
    cloudformation = boto3.client("cloudformation", region_name=region)
    the_plan = plan(
        args.stage,
        settings=settings,
        lambda_client=boto3.client("lambda", region_name=region),
        organization_ids=organization_ids_for(
            args.organization_ids,
            cloudformation=cloudformation,
            organizations=boto3.client("organizations", region_name="us-east-1"),
            stack=stack_name(args.stage, settings),
        ),
        management_role_arns=args.management_role_arns,
        operator_email=args.operator_email,
        database_connect_arn=foundation_connect_arn(args.stage, settings, cloudformation=cloudformation),
    )
    print(json.dumps({"stack": the_plan.stack_name, "parameters": the_plan.parameters}, indent=2))
    if args.dry_run:
        return 0
    outputs = apply(the_plan, cloudformation=cloudformation)
    print(json.dumps(outputs, indent=2))
    for name in the_plan.waiting_for:
        print(f"{name} is not deployed yet: run this again after `zappa deploy` to map its queues.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
