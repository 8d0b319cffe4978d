"""Scaling out: 50 account requests through the services mode with 1, 2 and 4 worker
processes — wall time, vends per minute and CPU per configuration — with Organizations'
CreateAccount quota lifted (as in bench/end_to_end.py) and again with it in force, in one run.

    .venv/bin/python bench/scale.py [--accounts 50] [--workers 1,2,4] [--quota both|lifted|in-force]
        [--database bespoke_bench_scale] [--redis redis://127.0.0.1:6379/13]

Each configuration runs what `make services` runs (`python -m deploy.services`: gunicorn
with 2 workers, Celery, beat and the emulated AWS with the demo organization under honcho)
on a fresh PostgreSQL database and a flushed Redis database, with
``WORKER_GROUPS="all=*:N"``: one worker consuming every queue with N prefork processes.
It vends one account to warm up, then posts the accounts at once and waits until every one
has succeeded. CPU is read from /proc: the machine's (2 cores; everything on it, other users
included) and the stack's own processes' (web, workers, beat, emulator) over the measured
interval.

Measured on this project's 2-core machine while other developers' test suites used about
three quarters of it (wall time, vends per minute, machine CPU, the stack's CPU):

    quota lifted   1 worker process   606 s  4.9/min  100%  23%
    quota lifted   2                  458 s  6.6/min  100%  27%
    quota lifted   4                  553 s  5.4/min  100%  23%
    quota in force 1                  632 s  4.7/min   97%  20%
    quota in force 2                  480 s  6.2/min   95%  27%
    quota in force 4                  480 s  6.3/min   75%  27%

Two processes are the most that help here: an account costs the stack about 5 CPU-seconds
against the emulator, so more processes only take turns; with the quota in force,
Organizations' one CreateAccount every 10 s (about 480 s for 50) is the ceiling.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import request_body  # noqa: E402

MARKER = "BESPOKE_BENCH_STACK"
TICKS = os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def stack_ticks(marker: str) -> dict[int, tuple[str, int]]:
    """pid -> (role, utime + stime) of every process of the stack (its environment carries the marker)."""
    needle = f"{MARKER}={marker}".encode()
    found: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if needle not in environ:
            continue
        name = next((v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"HONCHO_PROCESS_NAME=")), "")
        role = name.split(".", 1)[0] or "honcho"
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (role, int(fields[11]) + int(fields[12]))
    return found


def fresh_database(name: str) -> str:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"postgres://postgres@127.0.0.1:5432/{name}"  # deploy.services creates it


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    """`make services` with N worker processes, until stopped like Ctrl-C stops it."""

    def __init__(self, *, workers: int, quota_lifted: bool, database: str, redis_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.marker = uuid.uuid4().hex
        self.var_dir = Path(tempfile.mkdtemp(prefix="bespoke-scale-"))
        redis.Redis.from_url(redis_url).flushdb()
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "AWS_ENDPOINT_URL")},
            "DATABASE_URL": fresh_database(database),
            "REDIS_URL": redis_url,
            "BESPOKE_VAR_DIR": str(self.var_dir),
            "WORKER_GROUPS": f"all=*:{workers}",
            MARKER: self.marker,
        }
        if quota_lifted:
            # One CreateAccount every 10 s after a burst of 3 would decide the result alone.
            env["ORGANIZATIONS_CREATE_ACCOUNT_BURST"] = "1000"
        self.log = (self.var_dir / "stack.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deploy.services", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        token_file = self.var_dir / "demo-token"
        deadline = time.monotonic() + 300
        while not (token_file.exists() and self._healthy()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The stack did not start; see {self.var_dir / 'stack.log'}")
            time.sleep(0.5)
        self.headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def count(self, status: str) -> int:
        url = f"{self.base}/v1/account-requests?status={status}&limit=1"
        return int(requests.get(url, headers=self.headers, timeout=30).json()["count"])

    def vend(self, short_names: list[str]) -> float:
        """Post them all at once; seconds until every one has succeeded."""
        before = self.count("succeeded")
        started = time.perf_counter()

        def post(name: str) -> None:
            url = f"{self.base}/v1/account-requests"
            response = requests.post(url, json=request_body(name), headers=self.headers, timeout=60)
            assert response.status_code == 202, response.text

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(post, short_names))
        while self.count("succeeded") < before + len(short_names):
            if self.count("failed"):
                raise SystemExit(f"A request failed; see {self.var_dir / 'stack.log'}")
            time.sleep(0.25)
        return time.perf_counter() - started

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.var_dir, ignore_errors=True)


def measure(*, workers: int, quota_lifted: bool, accounts: int, database: str, redis_url: str) -> dict[str, Any]:
    stack = Stack(workers=workers, quota_lifted=quota_lifted, database=database, redis_url=redis_url)
    try:
        stack.vend(["warmup"])  # imports, botocore's models and moto's backends in every process
        machine_before, ours_before = machine_ticks(), stack_ticks(stack.marker)
        wall = stack.vend([f"scale{i}" for i in range(accounts)])
        machine_after, ours_after = machine_ticks(), stack_ticks(stack.marker)
    finally:
        stack.stop()
    cores = os.cpu_count() or 1
    by_role: dict[str, float] = {}
    for pid, (role, ticks) in ours_after.items():
        spent = ticks - ours_before.get(pid, (role, 0))[1]
        by_role[role] = by_role.get(role, 0.0) + spent / TICKS
    busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    return {
        "workers": workers,
        "quota": "lifted" if quota_lifted else "in force",
        "wall": wall,
        "per_minute": accounts / wall * 60,
        "machine_busy": busy,
        "ours": sum(by_role.values()) / (wall * cores),
        "roles": {role: seconds / (wall * cores) for role, seconds in sorted(by_role.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4", help="worker processes per configuration")
    parser.add_argument("--quota", choices=["both", "lifted", "in-force"], default="both")
    parser.add_argument("--database", default="bespoke_bench_scale", help="dropped and created per configuration")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="flushed per configuration")
    args = parser.parse_args()
    quotas = {"both": [True, False], "lifted": [True], "in-force": [False]}[args.quota]
    counts = [int(n) for n in args.workers.split(",")]

    results = []
    for quota_lifted in quotas:
        for workers in counts:
            result = measure(
                workers=workers,
                quota_lifted=quota_lifted,
                accounts=args.accounts,
                database=args.database,
                redis_url=args.redis,
            )
            results.append(result)
            print(
                f"  quota {result['quota']:<8} workers {workers}: {result['wall']:7.1f} s  "
                f"{result['per_minute']:6.1f} vends/min  machine CPU {result['machine_busy']:4.0%}  "
                f"stack CPU {result['ours']:4.0%} "
                f"({', '.join(f'{role} {share:.0%}' for role, share in result['roles'].items())})",
                flush=True,
            )

    print(
        f"\n{args.accounts} accounts through the services mode (gunicorn x2, one Celery worker with N prefork "
        f"processes, beat, moto's server; PostgreSQL, Redis) on {os.cpu_count()} cores. CPU: share of all "
        "cores over the wall time."
    )
    print("| Organizations quota | worker processes | wall time | vends/min | machine CPU | stack CPU |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['quota']} | {r['workers']} | {r['wall']:.1f} s | {r['per_minute']:.1f} | "
            f"{r['machine_busy']:.0%} | {r['ours']:.0%} |"
        )


if __name__ == "__main__":
    main()
