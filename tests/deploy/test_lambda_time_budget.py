"""Lambda's time budget: no AWS attempt starts that could outlast the invocation, a
record is not started with less than its budget left (it comes back instead), and
``maxReceiveCount`` follows the function's timeout."""

import base64
from typing import Any

import pytest

from apps.cloud import api as cloud
from apps.cloud.budget import TimeBudgetExhausted, time_budget
from apps.kernel.errors import RetryableError
from deploy.apply_queues import max_receive_count
from deploy.lambda_sqs import BatchConsumer, Outcome
from project.celery import app
from tests.conftest import EmulatedAws

ARN = "arn:aws:sqs:us-east-1:123456789012:bespoke-dev-q-network"


class Remaining:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


def record(message_id: str) -> dict[str, Any]:
    body = base64.b64encode(b"{not a celery message").decode()
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs", "eventSourceARN": ARN, "attributes": {}}


def test_an_aws_attempt_that_could_outlast_the_budget_is_not_made_and_is_retryable(
    aws: EmulatedAws, settings: Any
) -> None:
    settings.AWS_CONNECT_TIMEOUT, settings.AWS_READ_TIMEOUT = 3.0, 10.0
    sts = cloud.client("sts")
    assert sts.get_caller_identity()["Account"]  # no budget: no check

    with time_budget(12.0), pytest.raises(TimeBudgetExhausted):
        sts.get_caller_identity()
    with time_budget(12.0), pytest.raises(RetryableError) as refused, cloud.aws_errors("GetCallerIdentity"):
        sts.get_caller_identity()
    assert refused.value.code == "TimeBudgetExhausted"

    with time_budget(14.0):
        assert sts.get_caller_identity()["Account"]


@pytest.mark.django_db(transaction=True)
def test_a_record_is_not_started_with_less_than_its_budget_left(settings: Any) -> None:
    settings.AWS_CONNECT_TIMEOUT, settings.AWS_READ_TIMEOUT = 3.0, 10.0
    consumer = BatchConsumer(app, import_task_modules=False)

    short = consumer.run({"Records": [record("a"), record("b")]}, Remaining(14_000))  # 13 s + 2 s reserve needed
    assert short.outcomes == {"a": Outcome.NOT_STARTED, "b": Outcome.NOT_STARTED}
    assert short.response() == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}

    enough = consumer.run({"Records": [record("c")]}, Remaining(15_500))
    assert enough.outcomes == {"c": Outcome.DEAD_LETTERED}


@pytest.mark.django_db(transaction=True)
def test_the_record_budget_setting_can_ask_for_more_than_one_attempt(settings: Any) -> None:
    settings.AWS_CONNECT_TIMEOUT, settings.AWS_READ_TIMEOUT = 3.0, 10.0
    settings.LAMBDA_RECORD_BUDGET_SECONDS = 60
    consumer = BatchConsumer(app, import_task_modules=False)

    report = consumer.run({"Records": [record("a")]}, Remaining(30_000))

    assert report.outcomes == {"a": Outcome.NOT_STARTED}


@pytest.mark.parametrize(("timeout", "expected"), [(30, 10), (60, 6), (300, 5), (900, 5)])
def test_max_receive_count_follows_the_function_timeout(timeout: int, expected: int) -> None:
    assert max_receive_count(timeout) == expected
