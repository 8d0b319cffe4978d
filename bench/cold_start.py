"""Cold start of the Lambda package, ours vs stock Zappa, and the SQS handler's overhead.

    .venv/bin/python bench/cold_start.py [--runs 5] [--messages 300] [--skip-build]

1. Builds dist/bespoke-dev.zip (``make package``: bytecode, lean) and the same app packaged
   with stock Zappa settings (Zappa's own handler, no zip callback: sources only), then
   starts each, ``--runs`` times alternately, as a new ``python3.12 -I`` process with a
   Lambda-like environment and measures import + the first request (``GET /healthz``).
   Goal: ours at most a third of stock.
2. Runs ``--messages`` real Celery messages (``network.on_run_failed``) through the SQS
   batch handler (decode, delivery inbox, Celery's tracer) and the same number through the
   task function called directly, on SQLite, and prints the per-message overhead.

Needs no AWS (the health check touches nothing) and no PostgreSQL.
"""

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNTIME = ROOT / "tests" / "deploy" / "lambda_runtime.py"
VENV = ROOT / ".venv-package"


def build(skip: bool) -> dict[str, Path]:
    ours, stock = ROOT / "dist" / "bespoke-dev.zip", ROOT / "dist" / "bespoke-dev-stock.zip"
    if skip and ours.exists() and stock.exists():
        return {"ours": ours, "stock": stock}
    subprocess.run(["make", "-s", "package", "STAGE=dev"], cwd=ROOT, check=True, capture_output=True)
    settings = json.loads((ROOT / "zappa_settings.json").read_text())
    stage = {**settings["base"], **settings["dev"]}
    for ours_only in ("callbacks", "lambda_handler", "exclude_glob", "extends"):
        stage.pop(ours_only, None)
    stage["exclude"] = [".venv", ".venv-package", ".git", "tests", "dist", "var", "*.pyc", "__pycache__"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as stock_settings:
        json.dump({"dev": stage}, stock_settings)
    env = {**os.environ, "VIRTUAL_ENV": str(VENV), "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(
        [str(VENV / "bin" / "zappa"), "package", "dev", "-s", stock_settings.name, "-o", str(stock)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return {"ours": ours, "stock": stock}


def cold_start(root: Path, handler: str) -> float:
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "bespoke-dev",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(root),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 40,
        "WEBHOOK_SECRET_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
        "DATABASE_URL": "postgres://bench@127.0.0.1:9/bench",  # never connected to by /healthz
        "SQS_QUEUE_PREFIX": "bespoke-dev-",
        "LOG_LEVEL": "WARNING",
    }
    event = {
        "httpMethod": "GET",
        "path": "/healthz",
        "headers": {"Host": "abc123defg.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {},
        "body": None,
    }
    python = getattr(sys, "_base_executable", sys.executable)
    started = time.perf_counter()
    process = subprocess.Popen(
        [python, "-I", "-B", str(RUNTIME), str(root), handler, "30"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    json.loads(process.stdout.readline())  # imported
    process.stdin.write(json.dumps({"event": event}) + "\n")
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())
    elapsed = time.perf_counter() - started
    process.stdin.close()
    process.wait(timeout=10)
    assert answer["result"]["statusCode"] == 200, answer
    return elapsed


def bench_cold_start(zips: dict[str, Path], runs: int) -> dict[str, list[float]]:
    roots = {}
    for name, path in zips.items():
        roots[name] = Path(tempfile.mkdtemp(prefix=f"bespoke-{name}-"))
        with zipfile.ZipFile(path) as archive:
            archive.extractall(roots[name])
    handlers = {"ours": "deploy.lambda_handler.lambda_handler", "stock": "handler.lambda_handler"}
    times: dict[str, list[float]] = {name: [] for name in zips}
    for _ in range(runs):
        for name in zips:
            times[name].append(cold_start(roots[name], handlers[name]))
    for root in roots.values():
        shutil.rmtree(root)
    return times


def bench_messages(count: int) -> tuple[float, float]:
    """Seconds per message: through the SQS handler, and the task function called directly."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.test"
    os.environ["BESPOKE_VAR_DIR"] = tempfile.mkdtemp(prefix="bespoke-bench-")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.kernel import ids
    from apps.workflow.contracts import RunFailed
    from deploy.lambda_sqs import BatchConsumer
    from project.celery import app

    task = app.tasks["network.on_run_failed"]

    def envelope() -> dict[str, Any]:
        return RunFailed(
            run_id=ids.new_id(), request_id=ids.new_id(), step="vpc", error_code="e", message="m"
        ).to_envelope()

    def record(number: int) -> dict[str, Any]:
        headers, properties, body, _ = app.amqp.as_task_v2(ids.new_id(), task.name, args=[envelope()])
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

    consumer = BatchConsumer(app)
    batches = [[record(i * 10 + j) for j in range(10)] for i in range(count // 10)]
    direct = [envelope() for _ in range(len(batches) * 10)]
    started = time.perf_counter()
    for batch in batches:
        assert consumer({"Records": batch}) == {"batchItemFailures": []}
    through_sqs = (time.perf_counter() - started) / (len(batches) * 10)
    started = time.perf_counter()
    for item in direct:
        task.run(item)
    called = (time.perf_counter() - started) / len(direct)
    return through_sqs, called


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    zips = build(args.skip_build)
    for name, path in zips.items():
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(i.file_size for i in archive.infolist())
        print(f"package {name}: {path.stat().st_size / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped")
    times = bench_cold_start(zips, args.runs)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(
            f"cold start {name}: median {medians[name] * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, n={len(values)})"
        )
    print(f"ratio ours/stock: {medians['ours'] / medians['stock']:.2f} (goal <= 0.33)")
    through_sqs, called = bench_messages(args.messages)
    print(
        f"per message: SQS handler {through_sqs * 1000:.2f} ms, task function called directly {called * 1000:.2f} ms; "
        f"overhead {(through_sqs - called) * 1000:.2f} ms ({through_sqs / called:.2f}x)"
    )


if __name__ == "__main__":
    main()
