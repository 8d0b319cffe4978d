"""What the benchmarks share: the request body and moto's server in a process of its own."""

import base64
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_EXAMPLE = json.loads((ROOT / "docs" / "examples" / "account-request.json").read_text())


def request_body(short_name: str) -> dict[str, Any]:
    """The README's example request, for another project short name (another account)."""
    return {**_EXAMPLE, "tags": {**_EXAMPLE["tags"], "project_short_name": short_name}}


@contextmanager
def moto_server_process(port: int) -> Iterator[str]:
    """moto's server in its own process (its CPU is not the benchmark's, as with AWS)."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("moto_server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not lose the figures for it
            process.kill()
            process.wait()


def sqs_record(app: Any, task_name: str, envelope: dict[str, Any], number: int) -> dict[str, Any]:
    """An SQS event record holding a real Celery message of ``task_name`` with ``envelope``,
    as Lambda hands the network queue's records to the handler."""
    headers, properties, body, _ = app.amqp.as_task_v2(str(uuid.uuid4()), task_name, args=[envelope])
    message = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {**properties, "body_encoding": "base64", "delivery_info": {"routing_key": "q.network"}},
    }
    return {
        "messageId": str(number),
        "body": base64.b64encode(json.dumps(message).encode()).decode(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bespoke-dev-q-network",
        "attributes": {"ApproximateReceiveCount": "1"},
    }
