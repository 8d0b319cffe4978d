"""Intake throughput: accepted POST /v1/account-requests per second (authentication,
validation, insert, outbox, relay to the broker, audit) against two baselines served the
same way — same gunicorn, same workers, same PostgreSQL and Redis — in the same run:

- ``bare``: a Django view that answers a JsonResponse, parsing and writing nothing;
- ``durable``: a Django view that parses the same JSON body and inserts it into one
  PostgreSQL table in a transaction (the table is the bench's own, made here).

    .venv/bin/python bench/intake.py [--connections 32] [--seconds 10] [--workers 2] [--breakdown]

Needs PostgreSQL and Redis (the services mode) and wrk (`apt-get install wrk`). The
server's API_RATE_LIMIT is set high enough that no request is throttled; a run with any
non-2xx answer is invalid. Prints one line per endpoint and the ratios; the goal is
intake >= 0.5x the durable insert's requests/s and p99 <= 2x its p99.

``--breakdown`` serves the intake path again without its audit entry, without its relay to
the broker, without its rate limit, and without all three (the benchmark's server patches
them out: bench/urls.py), each time against the durable insert measured beside it: what
each piece costs, and how far the rest — authentication, validation, the request and its
outbox row — is from the goal on its own.
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

DURABLE_TABLE = "bench_durable_insert"  # bench/urls.py's durable view writes here
ENDPOINTS = {  # name: (path, wrk script)
    "bare": ("/bench/bare", "post_bare.lua"),
    "durable": ("/bench/durable", "post_unique.lua"),
    "intake": ("/v1/account-requests", "post_unique.lua"),
}


def _environment(database: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "WEBHOOK_SECRET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        # The default limit (1200/min) would throttle the benchmark into 429s.
        "API_RATE_LIMIT": "100000000/min",
    }


def _prepare(env: dict[str, str], database: str) -> str:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
    with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{database}", autocommit=True) as bench:
        bench.execute(
            f"CREATE TABLE {DURABLE_TABLE} (id text PRIMARY KEY, body jsonb NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    seed = (
        "from apps.accounts import api as a; from apps.clients import api as c;"
        "a.payer_upsert(name='demo', management_account_id='123456789012', email_division='demo',"
        "email_domain='example.com', allowed_environments=['dev'], allowed_regions=['us-east-1']);"
        "print(c.client_create(name='bench', scopes=list(c.ALL_SCOPES), all_payers=True).token)"
    )
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", "shell", "-c", seed],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def _wrk(url: str, script: str, *, connections: int, seconds: int, token: str) -> dict[str, float]:
    output = subprocess.run(
        # A request slower than wrk's default 2 s would be dropped from the latencies, not counted.
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(ROOT / "bench" / script),
            url,
        ],
        env={**os.environ, "BENCH_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(
        r"BENCH requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) timeouts=(\d+)", output
    )
    if not match:
        raise SystemExit(f"Could not read wrk's output:\n{output}")
    requests_done, duration_us, p50, p99, non2xx, timeouts = (int(g) for g in match.groups())
    return {
        "rps": (requests_done - non2xx) / (duration_us / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "non2xx": non2xx + timeouts,
        "requests": requests_done,
    }


# --breakdown: the intake path served again without each piece, then without all three
# (bench/urls.py's BENCH_SKIP), each against the durable insert measured beside it.
BREAKDOWN = (
    ("everything", ""),
    ("no audit entry", "audit"),
    ("no relay", "relay"),
    ("no rate limit", "throttle"),
    ("none of the three", "audit,relay,throttle"),
)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process (all its threads) so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _postgres_processes() -> list[int]:
    """The machine's PostgreSQL processes: every backend and the background ones."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def _cpu(server_pid: int) -> tuple[float, float]:
    """CPU seconds so far of the server's workers and of PostgreSQL."""
    return (
        sum(_cpu_seconds(pid) for pid in _children(server_pid)),
        sum(_cpu_seconds(pid) for pid in _postgres_processes()),
    )


@contextmanager
def _server(env: dict[str, str], args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "project.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield base, server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def _measure(
    server: tuple[str, int], names: list[str], args: argparse.Namespace, token: str
) -> dict[str, dict[str, float]]:
    """Warm every endpoint (imports, connections), then measure each ``args.rounds`` times,
    interleaved; the best round of each, with the CPU its requests cost the server's workers
    and PostgreSQL (from /proc: steadier than requests/s on a machine shared with others)."""
    base, pid = server
    for name in names:
        path, script = ENDPOINTS[name]
        _wrk(f"{base}{path}", script, connections=4, seconds=2, token=token)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            path, script = ENDPOINTS[name]
            web_before, db_before = _cpu(pid)
            result = _wrk(f"{base}{path}", script, connections=args.connections, seconds=args.seconds, token=token)
            web_after, db_after = _cpu(pid)
            result["web_cpu_ms"] = (web_after - web_before) * 1000 / result["requests"]
            result["db_cpu_ms"] = (db_after - db_before) * 1000 / result["requests"]
            results[name].append(result)
    non2xx = sum(int(run["non2xx"]) for runs in results.values() for run in runs)
    if non2xx:
        raise SystemExit(f"Invalid run: {non2xx} answers not 2xx (throttled, refused) or timed out.")
    return {name: max(runs, key=lambda r: r["rps"]) for name, runs in results.items()}


def _line(name: str, result: dict[str, float]) -> str:
    return (
        f"{name:>8}: {result['rps']:8.1f} requests/s  p50 {result['p50_ms']:6.1f} ms  "
        f"p99 {result['p99_ms']:6.1f} ms  CPU a request: server {result['web_cpu_ms']:5.2f} ms, "
        f"PostgreSQL {result['db_cpu_ms']:4.2f} ms  non-2xx or timed out {int(result['non2xx'])}"
    )


def _cpu_per_request(result: dict[str, float]) -> float:
    return result["web_cpu_ms"] + result["db_cpu_ms"]


def _breakdown(env: dict[str, str], args: argparse.Namespace, token: str) -> None:
    print(
        f"{'intake path':>20}  {'durable':>18}  {'intake':>18}  {'ratio':>6}  {'p99 ratio':>9}  "
        f"{'CPU a request':>13}  {'CPU ratio':>9}"
    )
    for label, skip in BREAKDOWN:
        with _server({**env, "BENCH_SKIP": skip}, args) as server:
            best = _measure(server, ["durable", "intake"], args, token)
        durable, intake = best["durable"], best["intake"]
        print(
            f"{label:>20}  {durable['rps']:6.1f}/s p99 {durable['p99_ms']:4.0f} ms  "
            f"{intake['rps']:6.1f}/s p99 {intake['p99_ms']:4.0f} ms  "
            f"{intake['rps'] / durable['rps']:5.2f}x  {intake['p99_ms'] / durable['p99_ms']:8.2f}x  "
            f"{_cpu_per_request(intake):10.2f} ms  {_cpu_per_request(intake) / _cpu_per_request(durable):8.2f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread when > 1)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database", default="bespoke_bench", help="dropped and created anew")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="the intake path without its audit entry, its relay, its rate limit, and without all three",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    env = _environment(args.database, args.redis_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    token = _prepare(env, args.database)
    print(
        f"connections={args.connections} workers={args.workers} threads={args.threads} "
        f"seconds={args.seconds} (best of {args.rounds} each)",
        flush=True,
    )
    try:
        if args.breakdown:
            _breakdown(env, args, token)
            return
        with _server(env, args) as server:
            best = _measure(server, list(ENDPOINTS), args, token)
    finally:
        redis.Redis.from_url(args.redis_url).flushdb()
    for name, result in best.items():
        print(_line(name, result))
    intake, durable = best["intake"], best["durable"]
    print(
        f"  intake / durable: {intake['rps'] / durable['rps']:.2f}x requests/s (goal >= 0.5x), "
        f"p99 {intake['p99_ms'] / durable['p99_ms']:.2f}x (goal <= 2x)"
    )
    print(f"  intake / bare: {intake['rps'] / best['bare']['rps']:.2f}x requests/s")
    print(
        f"  CPU a request, server and PostgreSQL: intake {_cpu_per_request(intake):.2f} ms, "
        f"durable {_cpu_per_request(durable):.2f} ms ({_cpu_per_request(intake) / _cpu_per_request(durable):.2f}x)"
    )


if __name__ == "__main__":
    main()
