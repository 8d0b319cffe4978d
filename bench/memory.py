"""Memory: the embedded mode's after 10, 30 and 50 vends (it must not grow between
them), and one Lambda-style invocation (the SQS handler on one batch, in a new process).

    .venv/bin/python bench/memory.py [--vends 50] [--at 10] [--batch 5] [--workers 4] [--no-trace]

The embedded mode runs in this process as in ``end_to_end.py`` (SQLite, the in-process
broker with worker threads, the demo payer) against moto's server in a process of its own,
whose memory is not counted. Vends go through the API ``--batch`` at a time. Python's
allocations are traced from after one warm-up vend (``tracemalloc``: live and peak bytes);
RSS and its high-water mark come from ``/proc/self/status``. The largest growths between
vend ``--at`` and the last are listed by source line. ``--no-trace``: RSS alone (tracing
keeps a record of every live allocation, which grows RSS too).

The Lambda invocation runs ``deploy.lambda_sqs.BatchConsumer`` on one batch of ten Celery
messages (``network.on_run_failed``) in a new interpreter on SQLite, traced from before
its first import, as a cold Lambda would run it.
"""

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def rss() -> tuple[int, int]:
    """Resident set size now and its high-water mark, in bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def lambda_invocation() -> None:
    """In a new process: one SQS batch through the handler; prints what it measured."""
    tracemalloc.start(1)
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.test"
    os.environ["BESPOKE_VAR_DIR"] = tempfile.mkdtemp(prefix="bespoke-bench-")
    os.environ.pop("DATABASE_URL", None)
    import json

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.kernel import ids
    from apps.workflow.contracts import RunFailed
    from bench.support import sqs_record
    from deploy.lambda_sqs import BatchConsumer
    from project.celery import app

    task = app.tasks["network.on_run_failed"]

    def record(number: int) -> dict[str, Any]:
        envelope = RunFailed(
            run_id=ids.new_id(), request_id=ids.new_id(), step="vpc", error_code="e", message="m"
        ).to_envelope()
        return sqs_record(app, task.name, envelope, number)

    consumer = BatchConsumer(app)
    batch = {"Records": [record(number) for number in range(10)]}
    ready_traced, _ = tracemalloc.get_traced_memory()
    ready_rss, _ = rss()
    tracemalloc.reset_peak()
    assert consumer(batch) == {"batchItemFailures": []}
    traced, peak = tracemalloc.get_traced_memory()
    now, high = rss()
    print(
        json.dumps(
            {
                "ready_traced": ready_traced,
                "ready_rss": ready_rss,
                "traced": traced,
                "invocation_peak": peak,
                "rss": now,
                "rss_high": high,
            }
        )
    )


def embedded(vends: int, at: int, batch: int, workers: int, *, trace: bool = True) -> None:
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    sys.path.insert(0, str(ROOT))
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from apps.cloud import cache
    from apps.cloud.emulator import free_port
    from bench import end_to_end  # sets up Django in the embedded mode's settings
    from bench.support import moto_server_process
    from tasks.demo import seed_demo
    from tasks.embedded import worker_threads

    call_command("migrate", verbosity=0)
    figures: dict[int, tuple[int, int, int, int]] = {}
    # A bounded cache fills and stays full; a leak keeps growing: both halves tell them apart.
    middle = at + (vends - at) // 2 // batch * batch
    snapshots: dict[int, tracemalloc.Snapshot] = {}
    with moto_server_process(free_port()) as emulator_url:
        settings.AWS_ENDPOINT_URL = emulator_url
        settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 1000
        seed = seed_demo(var_dir=Path(settings.VAR_DIR))
        settings.ALLOWED_HOSTS = ["*"]
        client = Client()
        with worker_threads(concurrency=workers):
            end_to_end.through_the_service(client, seed.token, ["warm"])
            gc.collect()
            if trace:
                tracemalloc.start(1)
            done = 0
            while done < vends:
                names = [f"mem{done + i}" for i in range(min(batch, vends - done))]
                end_to_end.through_the_service(client, seed.token, names)
                done += len(names)
                if done in (at, middle, vends):
                    gc.collect()
                    traced, peak = tracemalloc.get_traced_memory()  # (0, 0) when not tracing
                    figures[done] = (traced, peak, *rss())
                    if trace:
                        snapshots[done] = tracemalloc.take_snapshot()
                    print(
                        f"  (after {done} vends: traced {traced / MIB:.1f} MiB, RSS {rss()[0] / MIB:.1f} MiB)",
                        flush=True,
                    )
            clients_cached = len(cache._clients)

    print(f"embedded mode, {workers} worker threads, vends {batch} at a time (after one warm-up vend)")
    print("  after vends | traced now | traced peak | RSS    | RSS high-water")
    for count, (traced, peak, now, high) in figures.items():
        print(
            f"  {count:11d} | {traced / MIB:7.1f} MiB | {peak / MIB:8.1f} MiB | {now / MIB:5.1f} MiB"
            f" | {high / MIB:5.1f} MiB"
        )
    for start, end in ((at, vends), (at, middle), (middle, vends)):
        first, last = figures[start], figures[end]
        print(
            f"  growth from vend {start} to {end}: traced {(last[0] - first[0]) / MIB:+.2f} MiB, "
            f"RSS {(last[2] - first[2]) / MIB:+.1f} MiB "
            f"({(last[0] - first[0]) / max(end - start, 1) / 1024:+.1f} KiB per vend)"
        )
    print(f"  boto3 clients cached at the end: {clients_cached}")
    if not trace:
        return
    print(f"  largest growths by line, vend {at} to {vends}:")
    for stat in snapshots[vends].compare_to(snapshots[at], "lineno")[:8]:
        print(f"    {stat.size_diff / 1024:+9.1f} KiB  {stat.traceback[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vends", type=int, default=50)
    parser.add_argument("--at", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--no-trace", action="store_true", help="RSS alone: tracemalloc's own bookkeeping grows RSS as well"
    )
    parser.add_argument("--lambda-invocation", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lambda_invocation:
        lambda_invocation()
        return
    import json

    measured = subprocess.run(
        [sys.executable, __file__, "--lambda-invocation"], check=True, capture_output=True, text=True
    ).stdout.splitlines()[-1]
    invocation = json.loads(measured)
    embedded(args.vends, args.at, args.batch, args.workers, trace=not args.no_trace)
    print("one Lambda-style invocation (SQS handler, one batch of 10 messages, new process, SQLite):")
    print(
        f"  ready to handle: traced {invocation['ready_traced'] / MIB:.1f} MiB, "
        f"RSS {invocation['ready_rss'] / MIB:.1f} MiB;"
        f" the invocation's own peak {invocation['invocation_peak'] / MIB:.2f} MiB traced;"
        f" RSS high-water {invocation['rss_high'] / MIB:.1f} MiB"
    )


if __name__ == "__main__":
    main()
