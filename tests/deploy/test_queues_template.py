"""The queues template covers every Celery queue, gives the network function only what
network steps need, and deploy.apply_queues derives its parameters from zappa_settings."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import apply_queues
from project.settings.sqs import sqs_queue_name
from tasks.subscriptions import EVENT_SUBSCRIBERS, STEP_RUNNERS, all_queues
from tests.conftest import EmulatedAws
from tests.deploy import harness

TEMPLATE = Path(apply_queues.TEMPLATE)


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, …) read as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


CfnLoader.add_multi_constructor("!", _tag)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # noqa: S506 (a safe loader)
    return loaded


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
    statements = template()["Resources"]["NetworkRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
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
    cfnlint = pytest.importorskip("cfnlint.api")
    matches = cfnlint.lint_file(TEMPLATE)  # type: ignore[attr-defined]
    assert [str(m) for m in matches] == []


def test_parameters_come_from_zappa_settings(aws: EmulatedAws) -> None:
    lambda_client = harness.aws_client("lambda", aws.url)
    before = apply_queues.plan(
        "production", settings=harness.SETTINGS, lambda_client=lambda_client, organization_ids=[harness.ORGANIZATION]
    )
    assert before.stack_name == "bespoke-production-queues"
    assert before.parameters["VisibilityTimeoutSeconds"] == str(6 * 30)
    assert before.parameters["SecretName"] == "bespoke/production"
    assert before.parameters["MonolithFunction"] == before.parameters["NetworkFunction"] == ""
    assert before.waiting_for == ["bespoke-production", "bespoke-production-network"]

    outputs = apply_queues.apply(before, cloudformation=harness.aws_client("cloudformation", aws.url))
    assert outputs["QueuePrefix"] == "bespoke-production-"
    sqs = harness.aws_client("sqs", aws.url)
    url = sqs.get_queue_url(QueueName="bespoke-production-q-network")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "180"
    assert '"maxReceiveCount": 5' in attributes["RedrivePolicy"]
    assert harness.aws_client("iam", aws.url).get_role(RoleName="bespoke-production-network")
    # A second apply with nothing changed is fine.
    apply_queues.apply(before, cloudformation=harness.aws_client("cloudformation", aws.url))
