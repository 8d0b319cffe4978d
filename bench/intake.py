"""Intake throughput: accepted POST /v1/account-requests per second (authentication,
validation, insert, outbox, relay to the broker, audit) against two baselines served the
same way — same gunicorn, same workers, same PostgreSQL and Redis — in the same run:

- ``bare``: a Django view that answers a JsonResponse, parsing and writing nothing;
- ``durable``: a Django view that parses the same JSON body and inserts it into one
  PostgreSQL table in a transaction (the table is the bench's own, made here).

    .venv/bin/python bench/intake.py [--connections 32] [--seconds 10] [--workers 2]

Needs PostgreSQL and Redis (the services mode) and wrk (`apt-get install wrk`). The
server's API_RATE_LIMIT is set high enough that no request is throttled; a run with any
non-2xx answer is invalid. Prints one line per endpoint and the ratios; the goal is
intake >= 0.5x the durable insert's requests/s and p99 <= 2x its p99.
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
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    database = args.database
    env = _environment(database, args.redis_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    token = _prepare(env, database)
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
        # Warm every path (imports, connections), then measure each twice, interleaved.
        for path, script in ENDPOINTS.values():
            _wrk(f"{base}{path}", script, connections=4, seconds=2, token=token)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in ENDPOINTS}
        for _ in range(args.rounds):
            for name, (path, script) in ENDPOINTS.items():
                results[name].append(
                    _wrk(f"{base}{path}", script, connections=args.connections, seconds=args.seconds, token=token)
                )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        redis.Redis.from_url(args.redis_url).flushdb()

    best = {name: max(runs, key=lambda r: r["rps"]) for name, runs in results.items()}
    print(
        f"connections={args.connections} workers={args.workers} threads={args.threads} "
        f"seconds={args.seconds} (best of {args.rounds} each)"
    )
    for name, result in best.items():
        print(
            f"{name:>8}: {result['rps']:8.1f} requests/s  p50 {result['p50_ms']:6.1f} ms  "
            f"p99 {result['p99_ms']:6.1f} ms  non-2xx or timed out {int(result['non2xx'])}"
        )
    intake, durable = best["intake"], best["durable"]
    print(
        f"  intake / durable: {intake['rps'] / durable['rps']:.2f}x requests/s (goal >= 0.5x), "
        f"p99 {intake['p99_ms'] / durable['p99_ms']:.2f}x (goal <= 2x)"
    )
    print(f"  intake / bare: {intake['rps'] / best['bare']['rps']:.2f}x requests/s")
    non2xx = sum(int(run["non2xx"]) for runs in results.values() for run in runs)
    if non2xx:
        raise SystemExit(f"Invalid run: {non2xx} answers not 2xx (throttled, refused) or timed out.")


if __name__ == "__main__":
    main()
