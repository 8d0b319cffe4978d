"""One command per stage, from an empty account or any later state to a running stage:

    python -m deploy up dev

1. the foundation stack (network, database and proxy, secret, Zappa's bucket);
2. the queues stack (queues, dead-letter queues and their alarms, the functions' roles);
3. the stage's Zappa settings with the foundation's outputs (``vpc_config``, ``s3_bucket``),
   written to ``var/zappa_settings.<monolith stage>.json``;
4. the package (``make package``), unless one is given;
5. ``zappa deploy`` when the function does not exist yet, ``zappa update`` when it does;
6. the queues stack again: the event source mappings now that the function exists;
7. ``migrate`` inside the function (it alone reaches the database), and the API's URL.

Every step converges: a stack with nothing to change is left alone, a second run updates
the function in place, migrations already applied are skipped. Run it again after a failure.
"""

import base64
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from cryptography.fernet import Fernet

from deploy import apply_queues, foundation, stacks

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_VENV = ROOT / ".venv-package"


class DeployError(SystemExit):
    """A step failed; the message says which and why."""


Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass
class Tools:
    """How the steps reach AWS, Zappa and the function: real clients by default."""

    client: Callable[[str], Any]
    zappa: Sequence[str]
    zappa_environment: Mapping[str, str]
    invoke: Invoke
    package: Callable[[str], Path]
    echo: Callable[[str], None] = print


@dataclass(frozen=True)
class Options:
    zip_path: Path | None = None  # a package already built for the stage
    organization_ids: list[str] = field(default_factory=list)
    operator_email: str | None = None
    management_role_arns: list[str] = field(default_factory=list)
    migrate: bool = True
    settings_dir: Path = ROOT / "var"
    foundation_template: str | None = None
    queues_template: str | None = None


@dataclass(frozen=True)
class Result:
    action: str  # "deploy" or "update"
    function: str
    url: str | None
    settings_file: Path


def default_tools(region: str) -> Tools:
    def client(service: str) -> Any:
        # Organizations answers in us-east-1 only.
        return boto3.client(service, region_name="us-east-1" if service == "organizations" else region)

    return Tools(
        client=client,
        zappa=[str(PACKAGE_VENV / "bin" / "zappa")],
        zappa_environment={
            **os.environ,
            "VIRTUAL_ENV": str(PACKAGE_VENV),
            "PATH": f"{PACKAGE_VENV / 'bin'}:{os.environ.get('PATH', '')}",
        },
        invoke=lambda_invoker(client("lambda")),
        package=make_package,
    )


def up(stage: str, *, settings: dict[str, Any], options: Options, tools: Tools) -> Result:
    monolith = foundation.monolith_stage(stage, settings)
    function = apply_queues.function_name(stage, settings)
    cloudformation = tools.client("cloudformation")

    tools.echo(f"1/7 foundation of {monolith}")
    base = foundation.plan(monolith, settings=settings, options=foundation.stage_options(monolith).get("foundation"))
    outputs = stacks.apply_stack(
        cloudformation,
        name=base.stack_name,
        template=options.foundation_template or foundation.TEMPLATE.read_text(),
        parameters=base.parameters,
    )

    stage_secret_complete(tools.client("secretsmanager"), secret_id=outputs["SecretArn"])

    tools.echo(f"2/7 queues, dead-letter queues, alarms and roles of {monolith}")
    apply_queues_stack(monolith, settings=settings, options=options, tools=tools, foundation_outputs=outputs)

    tools.echo("3/7 Zappa settings with the foundation's outputs")
    settings_file = write_settings(monolith, settings, outputs, directory=options.settings_dir)

    tools.echo(f"4/7 package of {stage}")
    zip_path = options.zip_path or tools.package(stage)

    action = "update" if function_exists(tools.client("lambda"), function) else "deploy"
    tools.echo(f"5/7 zappa {action} {stage}")
    run_zappa(tools, action, stage, "--zip", str(zip_path), "-s", str(settings_file))

    tools.echo("6/7 event source mappings")
    apply_queues_stack(monolith, settings=settings, options=options, tools=tools, foundation_outputs=outputs)

    url = None
    if stage == monolith:
        if options.migrate:
            tools.echo(f"7/7 migrate in {function}")
            tools.invoke(function, {"manage": "migrate --noinput"})
        url = api_url(tools.client("apigateway"), function=function, stage=stage, region=region_of(stage, settings))
        tools.echo(f"{stage} is at {url}" if url else f"{stage} has no API")
    return Result(action=action, function=function, url=url, settings_file=settings_file)


def stage_secret_complete(secretsmanager: Any, *, secret_id: str) -> bool:
    """Give the stage's secret what CloudFormation cannot generate: the Fernet key webhook
    signing secrets are encrypted with (``WEBHOOK_SECRET_KEYS``). Made once and kept: a key
    that changed would leave every stored signing secret unreadable. True if it added one."""
    values = json.loads(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])
    if values.get("WEBHOOK_SECRET_KEYS"):
        return False
    values["WEBHOOK_SECRET_KEYS"] = Fernet.generate_key().decode()
    secretsmanager.put_secret_value(SecretId=secret_id, SecretString=json.dumps(values))
    return True


def apply_queues_stack(
    monolith: str, *, settings: dict[str, Any], options: Options, tools: Tools, foundation_outputs: Mapping[str, str]
) -> dict[str, str]:
    cloudformation = tools.client("cloudformation")
    plan = apply_queues.plan(
        monolith,
        settings=settings,
        lambda_client=tools.client("lambda"),
        organization_ids=apply_queues.organization_ids_for(
            options.organization_ids,
            cloudformation=cloudformation,
            organizations=tools.client("organizations"),
            stack=apply_queues.stack_name(monolith, settings),
        ),
        management_role_arns=options.management_role_arns,
        operator_email=options.operator_email,
        database_connect_arn=foundation_outputs.get("DatabaseConnectArn", ""),
    )
    body = options.queues_template or apply_queues.TEMPLATE.read_text()
    return apply_queues.apply(plan, cloudformation=cloudformation, template=body)


def write_settings(monolith: str, settings: dict[str, Any], outputs: dict[str, str], *, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"zappa_settings.{monolith}.json"
    rendered = foundation.settings_with_foundation(monolith, settings, outputs)
    path.write_text(json.dumps(rendered, indent=4) + "\n")
    return path


def region_of(stage: str, settings: dict[str, Any]) -> str:
    return str(apply_queues.stage_settings(stage, settings).get("aws_region", "us-east-1"))


def function_exists(lambda_client: Any, name: str) -> bool:
    try:
        lambda_client.get_function(FunctionName=name)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True


def run_zappa(tools: Tools, *arguments: str) -> None:
    command = [*tools.zappa, *arguments]
    completed = subprocess.run(command, cwd=ROOT, env=dict(tools.zappa_environment), check=False)  # noqa: S603
    if completed.returncode != 0:
        raise DeployError(f"zappa {' '.join(arguments)} failed (exit {completed.returncode}); run again once fixed.")


def make_package(stage: str) -> Path:
    """``make package STAGE=<stage>``: dist/bespoke-<stage>.zip from the lean virtualenv."""
    completed = subprocess.run(["make", "-s", "package", f"STAGE={stage}"], cwd=ROOT, check=False)  # noqa: S603, S607
    if completed.returncode != 0:
        raise DeployError(f"make package STAGE={stage} failed.")
    return ROOT / "dist" / f"bespoke-{stage}.zip"


def lambda_invoker(lambda_client: Any) -> Invoke:
    """Run an event through the deployed function and wait: what ``zappa manage`` does,
    failing when the function raised."""

    def invoke(function: str, event: dict[str, Any]) -> Any:
        response = lambda_client.invoke(
            FunctionName=function, Payload=json.dumps(event).encode(), InvocationType="RequestResponse", LogType="Tail"
        )
        payload = response["Payload"].read().decode(errors="replace")
        if response.get("FunctionError"):
            log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
            raise DeployError(f"{function} failed on {json.dumps(event)}: {payload}\n{log}")
        return json.loads(payload) if payload else None

    return invoke


def api_url(apigateway: Any, *, function: str, stage: str, region: str) -> str | None:
    """The stage's URL: Zappa names the REST API after the function and its stage after
    the Zappa stage."""
    for page in apigateway.get_paginator("get_rest_apis").paginate():
        for api in page.get("items", []):
            if api.get("name") == function:
                return f"https://{api['id']}.execute-api.{region}.amazonaws.com/{stage}"
    return None
