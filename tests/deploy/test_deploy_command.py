"""``python -m deploy up dev`` from an empty account, twice, against moto's server: the
foundation and queues stacks, ``zappa deploy`` then ``zappa update`` (the real CLI, through
``zappa_on_moto.py``), the mappings, ``migrate`` and the API's URL.

Two stand-ins, both for what moto cannot do: the foundation's database, proxy and secret
(moto's CloudFormation cannot create them — the secret is put here as the stack would make
it, pointing at the test database), and the function's execution (moto cannot run Lambda
code: ``migrate`` runs in the built package's handler on this machine, as in
``test_packaged_handler.py``).
"""

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from deploy import foundation, release
from tests.conftest import EmulatedAws
from tests.deploy import cfn, harness
from tests.support import stack

pytestmark = pytest.mark.slow

PACKAGE_VENV = harness.ROOT / ".venv-package"


def moto_foundation(secret_arn: str) -> str:
    stage_plan = foundation.plan(
        "dev", settings=harness.SETTINGS, options=foundation.stage_options("dev")["foundation"]
    )
    parameters = {"VpcCidr": "10.80.0.0/20", **{k: v for k, v in stage_plan.parameters.items() if v is not None}}
    body, _ = cfn.for_moto(
        foundation.TEMPLATE, parameters=parameters, stand_ins={**cfn.FOUNDATION_STAND_INS, "StageSecret": secret_arn}
    )
    return body


@pytest.mark.usefixtures("_postgres", "db")
def test_up_twice_from_an_empty_account(
    packages: dict[str, Path],
    package_roots: dict[str, Path],
    aws: EmulatedAws,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": harness.REGION,
    }.items():
        monkeypatch.setenv(name, value)
    organization = aws.client("organizations").create_organization(FeatureSet="ALL")["Organization"]["Id"]
    secret_arn = harness.aws_client("secretsmanager", aws.url).create_secret(
        Name="bespoke/dev",
        SecretString=json.dumps(
            {
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DATABASE_URL": stack.test_database_url(),
                "DB_IAM_AUTH": "true",
                "SQS_QUEUE_URL_BASE": f"{aws.url}/{harness.ACCOUNT}/",
            }
        ),
    )["ARN"]

    invoked: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        assert function == "bespoke-dev"
        invoked.append(event)
        root = package_roots["dev"]
        with harness.running(root, "dev", harness.lambda_environment("dev", aws_url=aws.url, task_root=root)) as run:
            return run.invoke(event)

    said: list[str] = []
    tools = release.Tools(
        client=lambda service: harness.aws_client(service, aws.url),
        zappa=[str(PACKAGE_VENV / "bin" / "python"), str(Path(__file__).with_name("zappa_on_moto.py"))],
        zappa_environment={
            "PATH": f"{PACKAGE_VENV / 'bin'}:{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(PACKAGE_VENV),
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": harness.REGION,
        },
        invoke=invoke,
        package=lambda stage: pytest.fail(f"packaged {stage} again: the session's package is given"),
        echo=said.append,
    )
    options = release.Options(
        zip_path=packages["dev"], settings_dir=tmp_path, foundation_template=moto_foundation(secret_arn)
    )

    first = release.up("dev", settings=harness.SETTINGS, options=options, tools=tools)

    assert first.action == "deploy"
    assert invoked == [{"manage": "migrate --noinput"}]
    cloudformation = harness.aws_client("cloudformation", aws.url)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="bespoke-dev-foundation")["Stacks"][0]["Outputs"]
    }
    lambda_client = harness.aws_client("lambda", aws.url)
    function = lambda_client.get_function(FunctionName="bespoke-dev")["Configuration"]
    assert sorted(function["VpcConfig"]["SubnetIds"]) == sorted(outputs["SubnetIds"].split(","))
    assert function["VpcConfig"]["SecurityGroupIds"] == [outputs["SecurityGroupIds"]]
    assert function["Role"].endswith(":role/bespoke-dev-monolith")
    assert function["Environment"]["Variables"]["BESPOKE_SECRETS_ID"] == "bespoke/dev"
    assert function["Environment"]["Variables"]["DB_CONN_MAX_AGE"] == "300"
    rendered = json.loads(first.settings_file.read_text())
    assert rendered["dev"]["s3_bucket"] == outputs["DeploymentBucket"]
    mappings = lambda_client.list_event_source_mappings(FunctionName="bespoke-dev")["EventSourceMappings"]
    assert len(mappings) == len(harness.all_queues())
    [queues_stack] = cloudformation.describe_stacks(StackName="bespoke-dev-queues")["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in queues_stack["Parameters"]}
    assert organization in parameters["OrganizationIds"]  # the deploying account's own, found
    assert parameters["DatabaseConnectArn"] == outputs["DatabaseConnectArn"]
    [api] = [
        a for a in harness.aws_client("apigateway", aws.url).get_rest_apis()["items"] if a["name"] == "bespoke-dev"
    ]
    assert first.url == f"https://{api['id']}.execute-api.us-east-1.amazonaws.com/dev"
    assert said[-1] == f"dev is at {first.url}"
    secretsmanager = harness.aws_client("secretsmanager", aws.url)
    stage_secret = json.loads(secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"])
    webhook_key = stage_secret["WEBHOOK_SECRET_KEYS"]  # made once, for webhook signing secrets
    Fernet(webhook_key.encode())

    second = release.up("dev", settings=harness.SETTINGS, options=options, tools=tools)

    assert second.action == "update"
    assert second.url == first.url
    assert invoked == [{"manage": "migrate --noinput"}] * 2
    again = lambda_client.list_event_source_mappings(FunctionName="bespoke-dev")["EventSourceMappings"]
    assert sorted(m["UUID"] for m in again) == sorted(m["UUID"] for m in mappings)
    assert len(lambda_client.list_functions()["Functions"]) == 1
    kept = json.loads(secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"])
    assert kept["WEBHOOK_SECRET_KEYS"] == webhook_key  # never replaced: stored secrets stay readable
