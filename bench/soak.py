"""Soak: account requests through the services mode under AWS faults while a worker is
killed with SIGKILL (and replaced) every 20 s; then counts what must hold — every request
succeeded, exactly one account each in the Organization, no CIDR allocated twice or
leaked, no email or webhook sent twice, never more than 5 creations in flight — and the
wall time against the same benchmark without faults or kills, in the same run.

    .venv/bin/python bench/soak.py [--accounts 100] [--window 120] [--kill-every 20]
        [--workers 2] [--concurrency 2] [--database bespoke_bench_soak] [--redis redis://127.0.0.1:6379/N]

The services mode as separate processes: gunicorn (2 workers), ``--workers`` Celery
workers with ``--concurrency`` prefork processes each, Celery beat (the outbox and
stuck-run sweepers every 5 s), PostgreSQL (a fresh ``--database``), Redis (a
``redis-server`` of its own on a spare port, or ``--redis`` flushed) and moto's server in
a process of its own. Organizations' CreateAccount rate is
lifted as in bench/end_to_end.py; the five-in-flight limit stays. The faults are
``tests.support.soak.SOAK_FAULTS``; ``tests/e2e/test_soak.py`` runs the same soak with 10
requests in CI.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _fresh_database(name: str) -> str:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--window", type=float, default=120.0, help="seconds over which the requests are posted")
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds between two SIGKILLs of a worker")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (each killed in turn)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes per worker")
    parser.add_argument("--database", default="bespoke_bench_soak", help="dropped and created")
    parser.add_argument("--redis", default="", help="a Redis database to flush (default: a redis-server of its own)")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="bespoke-soak-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
    os.environ["DATABASE_URL"] = _fresh_database(args.database)
    os.environ["BESPOKE_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command

    from apps.cloud.emulator import free_port
    from apps.notifications.models import WebhookSubscription
    from bench.support import moto_server_process
    from tasks.demo import seed_demo
    from tests.support.redis_server import OwnRedis
    from tests.support.soak import SOAK_FAULTS, SoakResult, soak, soak_environment, soak_stack
    from tests.support.stack import flush

    call_command("migrate", verbosity=0)
    own_redis = None
    if args.redis:
        flush(args.redis)
        redis_url = args.redis
    else:
        own_redis = OwnRedis()
        own_redis.start()
        redis_url = own_redis.url
    results: dict[str, SoakResult] = {}
    with moto_server_process(free_port()) as emulator_url:
        settings.AWS_ENDPOINT_URL = emulator_url
        seed = seed_demo(var_dir=var_dir)
        n = args.accounts
        for label, faults, kill_every in (("fault-free", "", None), ("faults + kills", SOAK_FAULTS, args.kill_every)):
            env = soak_environment(aws_url=emulator_url, redis_url=redis_url, faults=faults, var_dir=var_dir)
            with soak_stack(env, token=seed.token, workers=args.workers, concurrency=args.concurrency) as stack:
                slug = "base" if not faults else "soak"
                result = soak(stack, [f"{slug}{i}" for i in range(n)], window=args.window, kill_every=kill_every)
            # The next run's receiver is another one: this one's subscription ends with it.
            WebhookSubscription.objects.update(active=False)
            results[label] = result
            print(f"{label} (AWS_FAULTS={faults or 'none'}):", flush=True)
            for line in result.lines():
                print(f"  {line}", flush=True)
            for problem in result.problems(limit=5):
                print(f"  DOES NOT HOLD: {problem}", flush=True)
    if own_redis is not None:
        own_redis.stop()

    base, soaked = results["fault-free"], results["faults + kills"]
    print(
        f"{n} requests over {args.window:.0f} s; {args.workers} workers x {args.concurrency} processes; "
        f"wall time {soaked.seconds:.1f} s under faults and {soaked.kills} kills against {base.seconds:.1f} s "
        f"fault-free: ratio {soaked.seconds / base.seconds:.2f}x"
    )
    sys.exit(1 if base.problems(limit=5) or soaked.problems(limit=5) else 0)


if __name__ == "__main__":
    main()
