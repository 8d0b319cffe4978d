"""The queues template covers every Celery queue, gives the network function only what
network steps need, and deploy.apply_queues derives its parameters from zappa_settings."""

import ast
from pathlib import Path
from typing import Any

import pytest

from deploy import apply_queues
from project.settings.sqs import sqs_queue_name
from tasks.subscriptions import EVENT_SUBSCRIBERS, STEP_RUNNERS, all_queues
from tests.conftest import EmulatedAws
from tests.deploy import cfn, harness

TEMPLATE = Path(apply_queues.TEMPLATE)


def template() -> dict[str, Any]:
    return cfn.load(TEMPLATE)


def logical(queue: str) -> str:
    return "Q" + "".join(part.capitalize() for part in queue.split(".")[1:])


def test_every_queue_has_a_dead_letter_queue_and_a_mapping_with_partial_batch_failures() -> None:
    resources = template()["Resources"]
    queues = {
        name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    }
    assert queues == {logical(q) for q in all_queues()}
    for queue in all_queues():
        properties = resources[logical(queue)]["Properties"]
        assert properties["QueueName"] == {"Sub": "${StageName}-" + queue.replace(".", "-")}
        assert properties["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": f"{logical(queue)}DeadLetters.Arn"}
        assert properties["VisibilityTimeout"] == {"Ref": "VisibilityTimeoutSeconds"}
        mapping = resources[f"{logical(queue)}Mapping"]["Properties"]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["EventSourceArn"] == {"GetAtt": f"{logical(queue)}.Arn"}


def test_template_names_queues_as_kombu_does() -> None:
    from kombu.transport.SQS import Channel

    for queue in all_queues():
        assert sqs_queue_name("bespoke-dev-", queue) == Channel.entity_name(None, "bespoke-dev-" + queue)  # type: ignore[arg-type]
        assert sqs_queue_name("bespoke-dev-", queue) == "bespoke-dev-" + queue.replace(".", "-")


def test_network_function_may_only_consume_its_queue_and_publish_its_outcomes() -> None:
    statements = cfn.statements(template(), "NetworkRole")
    by_sid = {s["Sid"]: s for s in statements if "Sid" in s}
    assert by_sid["ConsumeTheNetworkQueue"]["Resource"] == {"GetAtt": "QNetwork.Arn"}
    # What the network context records (step outcomes) goes to their subscribers; its own
    # retries and deferrals go back to q.network. Nothing else.
    outcome_queues = {s.queue for t in ("StepSucceeded", "StepRetrying", "StepFailed") for s in EVENT_SUBSCRIBERS[t]}
    allowed = {r["GetAtt"].removesuffix(".Arn") for r in by_sid["PublishStepOutcomes"]["Resource"]}
    assert allowed == {logical(q) for q in outcome_queues | {STEP_RUNNERS["network"].queue}}
    actions = {a for s in statements if isinstance(s, dict) and "Action" in s for a in _list(s["Action"])}
    assert not [a for a in actions if a.startswith(("organizations:", "ses:", "support:", "lambda:"))]


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_template_passes_cfn_lint() -> None:
    import cfnlint.api

    assert [str(m) for m in cfnlint.api.lint_file(TEMPLATE)] == []  # type: ignore[attr-defined]


def test_parameters_come_from_zappa_settings(aws: EmulatedAws) -> None:
    lambda_client = harness.aws_client("lambda", aws.url)
    before = apply_queues.plan(
        "production", settings=harness.SETTINGS, lambda_client=lambda_client, organization_ids=[harness.ORGANIZATION]
    )
    assert before.stack_name == "bespoke-production-queues"
    assert before.parameters["VisibilityTimeoutSeconds"] == str(6 * 30)
    assert before.parameters["MaxReceiveCount"] == "10"  # a 30 s function: see max_receive_count
    assert before.parameters["SecretName"] == "bespoke/production"
    assert before.parameters["MonolithFunction"] == before.parameters["NetworkFunction"] == ""
    assert before.waiting_for == ["bespoke-production", "bespoke-production-network"]

    outputs = apply_queues.apply(before, cloudformation=harness.aws_client("cloudformation", aws.url))
    assert outputs["QueuePrefix"] == "bespoke-production-"
    sqs = harness.aws_client("sqs", aws.url)
    url = sqs.get_queue_url(QueueName="bespoke-production-q-network")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "180"
    assert '"maxReceiveCount": 10' in attributes["RedrivePolicy"]
    assert harness.aws_client("iam", aws.url).get_role(RoleName="bespoke-production-network")
    # A second apply with nothing changed is fine.
    apply_queues.apply(before, cloudformation=harness.aws_client("cloudformation", aws.url))


ROLES = ("MonolithRole", "NetworkRole")


@pytest.mark.parametrize("role", ROLES)
def test_roles_are_assumed_only_inside_the_payers_organizations(role: str) -> None:
    by_sid = {s["Sid"]: s for s in cfn.statements(template(), role)}
    for sid in ("IntoMemberAccounts", "IntoManagementAccounts"):
        assert by_sid[sid]["Action"] == "sts:AssumeRole"
        assert by_sid[sid]["Condition"] == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationIds"}}}
    assumes = [s for s in cfn.statements(template(), role) if "sts:AssumeRole" in _list(s["Action"])]
    assert {s["Sid"] for s in assumes} == {"IntoMemberAccounts", "IntoManagementAccounts"}


def test_organizations_writes_touch_only_the_payers_organizations() -> None:
    writes = {
        "organizations:MoveAccount",
        "organizations:TagResource",
        "organizations:CloseAccount",
        "organizations:CreateOrganizationalUnit",
        "organizations:UpdatePolicy",
        "organizations:AttachPolicy",
        "organizations:EnablePolicyType",
    }
    unscoped = set()
    for statement in cfn.statements(template(), "MonolithRole"):
        organizations = {a for a in _list(statement["Action"]) if a.startswith("organizations:")}
        if organizations & writes:
            assert statement["Sid"] == "ChangeAccountsOfThePayersOrganizations"
            assert organizations == writes
            text = str(statement["Resource"])
            assert all(
                f"{kind}/${{{name}}}/*" in text
                for kind, name in [("account", "Accounts"), ("root", "Roots"), ("ou", "Units")]
            )
            assert "policy/${Policies}/service_control_policy/*" in text
        elif statement["Resource"] == "*":
            unscoped |= organizations
    # Reads, CreateAccount and CreatePolicy: they have no resource type and act in the
    # caller's own Organization.
    assert all(
        a.startswith(("organizations:Describe", "organizations:List"))
        for a in unscoped - {"organizations:CreateAccount", "organizations:CreatePolicy"}
    )


def test_api_gateway_and_eventbridge_trust_only_this_account() -> None:
    trust = template()["Resources"]["MonolithRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    for statement in trust:
        services = set(_list(statement["Principal"]["Service"]))
        if services & {"apigateway.amazonaws.com", "events.amazonaws.com"}:
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        else:
            assert services == {"lambda.amazonaws.com"}


def test_every_dead_letter_queue_has_an_alarm_notifying_the_operators() -> None:
    """Structural: moto's CloudFormation does not create CloudWatch alarms or SNS subscriptions."""
    resources = template()["Resources"]
    dead_letter_queues = {
        name
        for name, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" not in r["Properties"]
    }
    assert dead_letter_queues == {f"{logical(q)}DeadLetters" for q in all_queues()}
    alarms = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"
    ]
    watched = {}
    for alarm in alarms:
        [dimension] = alarm["Dimensions"]
        assert dimension["Name"] == "QueueName"
        watched[dimension["Value"]["GetAtt"].removesuffix(".QueueName")] = alarm
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["AlarmActions"] == [{"Ref": "OperatorsTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert set(watched) == dead_letter_queues
    assert resources["OperatorsTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = resources["OperatorsByEmail"]
    assert subscription["Condition"] == "HasOperatorEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "OperatorsTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "OperatorEmail"},
    }


def test_moto_evaluates_the_organization_scoped_policy(aws: EmulatedAws) -> None:
    """Applied to moto's CloudFormation with two Organizations: the policy IAM receives."""
    lambda_client = harness.aws_client("lambda", aws.url)
    organizations = ["o-aaaaaaaaaa", "o-bbbbbbbbbb"]
    the_plan = apply_queues.plan(
        "dev",
        settings=harness.SETTINGS,
        lambda_client=lambda_client,
        organization_ids=organizations,
        operator_email="ops@example.com",
        database_connect_arn="arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/bespoke",
    )
    outputs = apply_queues.apply(the_plan, cloudformation=harness.aws_client("cloudformation", aws.url))
    assert outputs["OperatorsTopicArn"].endswith(":bespoke-dev-operators")
    iam = harness.aws_client("iam", aws.url)
    [name] = iam.list_role_policies(RoleName="bespoke-dev-monolith")["PolicyNames"]
    document = iam.get_role_policy(RoleName="bespoke-dev-monolith", PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # moto's CloudFormation keeps the document as Python's repr of it
        document = ast.literal_eval(document)
    # moto leaves an !If's AWS::NoValue in the list as None (IAM would drop it).
    by_sid = {s["Sid"]: s for s in document["Statement"] if s is not None}
    assert sorted(by_sid["ChangeAccountsOfThePayersOrganizations"]["Resource"]) == sorted(
        [
            *(
                f"arn:aws:organizations::*:{kind}/{org}/*"
                for kind in ("account", "root", "ou")
                for org in organizations
            ),
            *(f"arn:aws:organizations::*:policy/{org}/service_control_policy/*" for org in organizations),
        ]
    )
    assert by_sid["IntoMemberAccounts"]["Condition"] == {"StringEquals": {"aws:ResourceOrgID": organizations}}
    assert by_sid["DatabaseThroughTheProxy"] == {
        "Sid": "DatabaseThroughTheProxy",
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": "arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/bespoke",
    }
    # A second run naming nothing keeps the Organizations and the e-mail address.
    again = apply_queues.plan("dev", settings=harness.SETTINGS, lambda_client=lambda_client, organization_ids=None)
    apply_queues.apply(again, cloudformation=harness.aws_client("cloudformation", aws.url))
    [stack] = harness.aws_client("cloudformation", aws.url).describe_stacks(StackName="bespoke-dev-queues")["Stacks"]
    kept = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert all(org in kept["OrganizationIds"] for org in organizations)  # moto shows a list's repr
    assert kept["OperatorEmail"] == "ops@example.com"
