"""Cold start of the Lambda package, ours vs stock Zappa, and the SQS handler's overhead.

    .venv/bin/python bench/cold_start.py [--runs 5] [--messages 300] [--rounds 3] [--skip-build]
        [--handler-only] [--profile]

1. Builds dist/bespoke-dev.zip (``make package``: bytecode, lean) and the same app packaged
   with stock Zappa settings (Zappa's own handler, no zip callback: sources only), then
   starts each, ``--runs`` times alternately, as a new ``python3.12 -I`` process with a
   Lambda-like environment and measures import + the first request (``GET /healthz``).
   Goal: ours at most a third of stock.
2. Runs ``--messages`` real Celery messages (``network.on_run_failed``, batches of 10)
   through the SQS batch handler (decode, delivery inbox, Celery's tracer) and the same
   number through the task function called directly, on SQLite, ``--rounds`` times
   alternately, and prints the per-message overhead (wall and CPU time, medians).
   ``--handler-only`` runs this part alone (no package is built or started);
   ``--profile`` adds a cProfile of one more round through the handler.

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
from collections.abc import Callable
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


def bench_messages(count: int, *, rounds: int = 3, profile: bool = False) -> dict[str, float]:
    """Per message, median over ``rounds`` alternating rounds of ``count`` fresh messages:
    wall and CPU seconds through the SQS handler (``sqs``, ``sqs_cpu``) and with the task
    function called directly (``direct``, ``direct_cpu``)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.test"
    os.environ["BESPOKE_VAR_DIR"] = tempfile.mkdtemp(prefix="bespoke-bench-")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    # One connection across invocations, as the stages keep theirs (DB_CONN_MAX_AGE): the
    # SQLite default (none kept) would open one per batch and measure that instead.
    connection.settings_dict["CONN_MAX_AGE"] = 300
    connection.close()
    from apps.kernel import ids
    from apps.workflow.contracts import RunFailed
    from bench.support import sqs_record
    from deploy.lambda_sqs import BatchConsumer
    from project.celery import app

    task = app.tasks["network.on_run_failed"]

    def envelope() -> dict[str, Any]:
        return RunFailed(
            run_id=ids.new_id(), request_id=ids.new_id(), step="vpc", error_code="e", message="m"
        ).to_envelope()

    def record(number: int) -> dict[str, Any]:
        return sqs_record(app, task.name, envelope(), number)

    consumer = BatchConsumer(app)
    batches_per_round = max(1, count // 10)

    def through_sqs() -> Callable[[], None]:
        batches = [[record(i * 10 + j) for j in range(10)] for i in range(batches_per_round)]

        def run() -> None:
            for batch in batches:
                assert consumer({"Records": batch}) == {"batchItemFailures": []}

        return run

    def called() -> Callable[[], None]:
        envelopes = [envelope() for _ in range(batches_per_round * 10)]

        def run() -> None:
            for item in envelopes:
                task.run(item)

        return run

    def timed(run: Callable[[], None]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        n = batches_per_round * 10
        return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n

    through_sqs()()  # warm-up: first queries, lazy imports
    called()()
    samples: dict[str, list[float]] = {"sqs": [], "sqs_cpu": [], "direct": [], "direct_cpu": []}
    for _ in range(rounds):
        for name, prepare in (("sqs", through_sqs), ("direct", called)):
            wall, cpu = timed(prepare())
            samples[name].append(wall)
            samples[f"{name}_cpu"].append(cpu)
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(through_sqs())
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--handler-only", action="store_true", help="only the SQS handler's per-message part")
    parser.add_argument("--profile", action="store_true", help="also profile one round of the SQS handler")
    args = parser.parse_args()
    if not args.handler_only:
        bench_packages(args.skip_build, args.runs)
    per = bench_messages(args.messages, rounds=args.rounds, profile=args.profile)
    print(f"per message (median of {args.rounds} rounds of {args.messages}):")
    for kind, suffix in (("wall", ""), ("cpu", "_cpu")):
        sqs, direct = per[f"sqs{suffix}"], per[f"direct{suffix}"]
        print(
            f"  {kind}: SQS handler {sqs * 1000:.2f} ms, task function called directly {direct * 1000:.2f} ms; "
            f"overhead {(sqs - direct) * 1000:.2f} ms ({sqs / direct:.2f}x) (goal: overhead <= 0.40 ms)"
        )


def bench_packages(skip_build: bool, runs: int) -> None:
    zips = build(skip_build)
    for name, path in zips.items():
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(i.file_size for i in archive.infolist())
        print(f"package {name}: {path.stat().st_size / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped")
    times = bench_cold_start(zips, runs)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(
            f"cold start {name}: median {medians[name] * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, n={len(values)})"
        )
    print(f"ratio ours/stock: {medians['ours'] / medians['stock']:.2f} (goal <= 0.33)")


if __name__ == "__main__":
    main()
