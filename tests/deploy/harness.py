"""Running built Lambda packages on this machine: building them, unpacking them, running
their handler in a clean interpreter with a Lambda-like environment, and feeding it API
Gateway, EventBridge and SQS events — SQS batches taken from moto's server by a small
driver that stands in for the event source mapping."""

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from cryptography.fernet import Fernet

from deploy import apply_queues
from tasks.subscriptions import all_queues

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
RUNTIME = Path(__file__).with_name("lambda_runtime.py")
SETTINGS = json.loads((ROOT / "zappa_settings.json").read_text())
ACCOUNT = "123456789012"
ORGANIZATION = "o-exampleorg1"  # the payers' Organization the queues template is given
REGION = "us-east-1"
API_HOST = "abc123defg.execute-api.us-east-1.amazonaws.com"


def base_python() -> str:
    """The interpreter the virtualenv was made from (pyenv's python3.12): no site-packages of ours."""
    return str(getattr(sys, "_base_executable", sys.executable))


def stage(name: str) -> dict[str, Any]:
    return apply_queues.stage_settings(name, SETTINGS)


# --- Packages ------------------------------------------------------------------------------


def build_packages(stages: Iterable[str]) -> dict[str, Path]:
    """``make package STAGE=<stage>`` for each stage (in parallel once the lean virtualenv
    exists); the zips. ``BESPOKE_REUSE_PACKAGES=1`` reuses zips already in dist/."""
    stages = list(stages)
    zips = {s: DIST / f"bespoke-{s}.zip" for s in stages}
    if os.environ.get("BESPOKE_REUSE_PACKAGES") == "1" and all(z.exists() for z in zips.values()):
        return zips
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")}
    subprocess.run(["make", "-s", ".venv-package/.installed"], cwd=ROOT, env=env, check=True, capture_output=True)
    builds = {
        s: subprocess.Popen(
            ["make", "-s", "package", f"STAGE={s}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for s in stages
    }
    for s, build in builds.items():
        output, _ = build.communicate(timeout=300)
        if build.returncode != 0:
            raise AssertionError(f"make package STAGE={s} failed:\n{output[-4000:]}")
    return zips


def unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into


def unpacked_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


# --- The Lambda environment ----------------------------------------------------------------


def lambda_environment(stage_name: str, *, aws_url: str, task_root: Path, **overrides: str) -> dict[str, str]:
    """What Lambda sets for a function of ``stage_name``: its own variables, the role's
    credentials, and the stage's ``aws_environment_variables`` — nothing else of this
    machine's environment. ``AWS_ENDPOINT_URL`` points every AWS call at moto's server."""
    config = stage(stage_name)
    function = apply_queues.function_name(stage_name, SETTINGS)
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("memory_size", 1024)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config['runtime']}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "AWS_ENDPOINT_URL": aws_url,
        **config.get("aws_environment_variables", {}),
    }
    env.update(overrides)
    return env


class LambdaProcess:
    """One execution environment: a clean ``python3.12 -I`` running a package's handler."""

    def __init__(self, task_root: Path, handler: str, env: Mapping[str, str], *, timeout: float = 30.0) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="bespoke-lambda-", suffix=".log", delete=False)  # noqa: SIM115
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [base_python(), "-I", "-B", str(RUNTIME), str(task_root), handler, str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=dict(env),
            text=True,
            cwd=task_root,
        )
        self.timeout = timeout
        ready = self._read(timeout=120)
        self.cold_start_seconds = time.perf_counter() - started
        self.init_seconds = float(ready["init_seconds"])

    def _read(self, *, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise AssertionError(f"The function did not answer within {timeout}s:\n{self.output()}")
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"The function's process ended (code {self.process.poll()}):\n{self.output()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read(timeout=self.timeout + 30)

    def invoke(self, event: dict[str, Any]) -> Any:
        answer = self._send({"event": event})
        if answer["error"]:
            raise AssertionError(f"The handler raised:\n{answer['error']}\n--- log ---\n{self.output()}")
        return answer["result"]

    def modules(self) -> list[str]:
        result: list[str] = self._send({"control": "modules"})["result"]
        return result

    def output(self, tail: int = 6000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-tail:]

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()


@contextmanager
def running(task_root: Path, stage_name: str, env: Mapping[str, str]) -> Iterator[LambdaProcess]:
    config = stage(stage_name)
    function = LambdaProcess(task_root, config["lambda_handler"], env, timeout=float(config["timeout_seconds"]))
    try:
        yield function
    finally:
        function.close()


# --- Events ----------------------------------------------------------------------------------


def rest_event(method: str, path: str, *, body: Any = None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event, as a Zappa stage's API sends it."""
    all_headers = {"Host": API_HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", **(headers or {})}
    if body is not None:
        all_headers.setdefault("Content-Type", "application/json")
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/dev{path}",
            "stage": "dev",
            "requestId": str(uuid.uuid4()),
            "accountId": ACCOUNT,
            "apiId": API_HOST.split(".")[0],
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "tests"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def http_api_event(
    method: str, path: str, *, body: Any = None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event, default stage."""
    all_headers = {"host": API_HOST, "x-forwarded-proto": "https", **{k.lower(): v for k, v in (headers or {}).items()}}
    if body is not None:
        all_headers.setdefault("content-type", "application/json")
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_HOST.split(".")[0],
            "domainName": API_HOST,
            "domainPrefix": API_HOST.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "t",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def scheduled_event(function_name: str, job: str) -> dict[str, Any]:
    """What EventBridge sends for a Zappa ``events`` entry (the rule is named after the job)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{function_name}-{job}"],
        "detail": {},
    }


# --- Emulated AWS: queues, secrets, messages ------------------------------------------------


def aws_client(service: str, aws_url: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=aws_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class Queues:
    """A stage's queues in moto, created by the CloudFormation template."""

    aws_url: str
    prefix: str
    outputs: dict[str, str]
    sqs: Any = field(repr=False)

    @property
    def url_base(self) -> str:
        return f"{self.aws_url}/{ACCOUNT}/"

    def name(self, queue: str) -> str:
        return self.prefix + queue.replace(".", "-")

    def url(self, queue: str) -> str:
        return self.url_base + self.name(queue)

    def arn(self, queue: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.name(queue)}"

    def attributes(self, queue: str) -> dict[str, str]:
        found: dict[str, str] = self.sqs.get_queue_attributes(QueueUrl=self.url(queue), AttributeNames=["All"])[
            "Attributes"
        ]
        return found

    def counts(self, queue: str) -> tuple[int, int, int]:
        """(visible, in flight, delayed) messages."""
        a = self.attributes(queue)
        return (
            int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]),
        )


def create_queues(aws_url: str, stage_name: str) -> Queues:
    """``deploy.apply_queues`` for ``stage_name`` against moto (queues, DLQs, roles)."""
    settings_plan = apply_queues.plan(
        stage_name, settings=SETTINGS, lambda_client=aws_client("lambda", aws_url), organization_ids=[ORGANIZATION]
    )
    outputs = apply_queues.apply(settings_plan, cloudformation=aws_client("cloudformation", aws_url))
    return Queues(aws_url=aws_url, prefix=outputs["QueuePrefix"], outputs=outputs, sqs=aws_client("sqs", aws_url))


def put_secret(aws_url: str, name: str, values: Mapping[str, str]) -> None:
    aws_client("secretsmanager", aws_url).create_secret(Name=name, SecretString=json.dumps(dict(values)))


def produce(messages: list[dict[str, Any]], *, aws_url: str, queues: Queues, database_url: str) -> list[str]:
    """Publish Celery messages with the real producer: a process with the serverless
    settings calls ``.delay(*args)`` for each ``{"task", "args"}`` — ``.apply_async`` with
    ``"countdown"`` or ``"task_id"``, ``app.send_task`` with ``"send_task": true`` (no
    argument check: a message its task will refuse); their task ids."""
    script = (
        "import json, sys, django; django.setup()\n"
        "from project.celery import app\n"
        "ids = []\n"
        "for m in json.loads(sys.argv[1]):\n"
        "    if m.get('send_task'):\n"
        "        r = app.send_task(m['task'], args=m['args'])\n"
        "    elif m.get('countdown') or m.get('task_id'):\n"
        "        task = app.tasks[m['task']]\n"
        "        r = task.apply_async(args=m['args'], countdown=m.get('countdown'), task_id=m.get('task_id'))\n"
        "    else:\n"
        "        r = app.tasks[m['task']].delay(*m['args'])\n"
        "    ids.append(r.id)\n"
        "print(json.dumps(ids))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "project.settings.serverless",
        "DJANGO_SECRET_KEY": "producer-" + "x" * 40,
        "WEBHOOK_SECRET_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "SQS_QUEUE_PREFIX": queues.prefix,
        "SQS_QUEUE_URL_BASE": queues.url_base,
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(messages)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ids: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return ids


def sqs_record(message: dict[str, Any], *, queue_arn: str) -> dict[str, Any]:
    """An SQS message as the event source mapping hands it to Lambda."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "AIDAEXAMPLE"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


@dataclass
class Batch:
    queue: str
    records: list[dict[str, Any]]
    failures: set[str]


class EventSourceMapping:
    """Stands in for Lambda's SQS pollers: receives a batch from a queue, invokes the
    function consuming that queue, deletes what the function did not report as failed."""

    def __init__(self, queues: Queues, consumers: Mapping[str, Callable[[dict[str, Any]], Any]]) -> None:
        self.queues = queues
        self.consumers = consumers  # Celery queue → invoke(event)

    def receive(self, queue: str, *, visibility_timeout: int = 30) -> list[dict[str, Any]]:
        messages = self.queues.sqs.receive_message(
            QueueUrl=self.queues.url(queue),
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        return [sqs_record(m, queue_arn=self.queues.arn(queue)) for m in messages]

    def deliver(self, queue: str, records: list[dict[str, Any]]) -> Batch:
        response = self.consumers[queue]({"Records": records})
        failures = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        done = [r for r in records if r["messageId"] not in failures]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.queues.sqs.delete_message_batch(
                QueueUrl=self.queues.url(queue),
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
        return Batch(queue=queue, records=records, failures=failures)

    def poll(self, *, visibility_timeout: int = 30) -> list[Batch]:
        """One round over every queue; the batches delivered."""
        batches = []
        for queue in all_queues():
            if queue not in self.consumers:
                continue
            records = self.receive(queue, visibility_timeout=visibility_timeout)
            if records:
                batches.append(self.deliver(queue, records))
        return batches
