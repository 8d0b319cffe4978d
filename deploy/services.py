"""``make services``: the whole services mode on this machine, from the ``Procfile``.

    python -m deploy.services [--port 8000] [--scale network=2]

Runs the Procfile's ``release`` line (migrations) once, then, under honcho, ``web``
(gunicorn), one ``worker`` per group of ``WORKER_GROUPS`` (``--scale`` starts more of a
group), ``beat`` and — unless ``AWS_ENDPOINT_URL`` names an AWS endpoint — ``aws``, the
emulated AWS with the demo organization. Ctrl-C (or SIGTERM) stops every process: honcho
sends each a SIGTERM, then a SIGKILL to what is left after five seconds.

Settings come from the environment, with defaults for one machine: ``DATABASE_URL``
(the local PostgreSQL, database ``bespoke``, created if missing), ``REDIS_URL`` (the local
Redis, database 0), ``DJANGO_SECRET_KEY`` and ``WEBHOOK_SECRET_KEYS`` (made once, kept in ``var/secret-key``
and ``var/webhook-secret-key``),
``DJANGO_ALLOWED_HOSTS`` (loopback) and plain HTTP (``DJANGO_SECURE_SSL_REDIRECT=false``).
"""

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
BIN = Path(sys.executable).parent

DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "project.settings.production",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bespoke",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    # Plain HTTP on loopback; behind a TLS proxy set it to true.
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "LOG_FORMAT": "console",
}
# Processes started once each, in this order; ``worker`` once per group; anything else the
# Procfile adds is started too. ``release`` runs before them all and must succeed.
RELEASE, WORKER, EMULATOR = "release", "worker", "aws"


class SetupError(Exception):
    pass


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _kept(path: Path, make: Callable[[], str]) -> str:
    """A value made once and kept in ``path`` (readable by its owner only)."""
    if not path.exists():
        path.write_text(make() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def environment(*, port: int, base: dict[str, str]) -> tuple[dict[str, str], bool]:
    """The processes' environment, and whether the emulated AWS runs."""
    env = dict(base)
    for name, value in DEFAULTS.items():
        env.setdefault(name, value)
    var_dir = Path(env.setdefault("BESPOKE_VAR_DIR", str(ROOT / "var")))
    var_dir.mkdir(parents=True, exist_ok=True)
    for name, file_name, make in (
        ("DJANGO_SECRET_KEY", "secret-key", lambda: secrets.token_urlsafe(50)),
        ("WEBHOOK_SECRET_KEYS", "webhook-secret-key", lambda: Fernet.generate_key().decode()),
    ):
        if not env.get(name):
            env[name] = _kept(var_dir / file_name, make)
    env.setdefault("BESPOKE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    # Every process of this host counts into its own file here; a scrape of /metrics sums
    # them. Emptied at each start: the files of processes that are gone would count twice.
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(var_dir / "prometheus")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PORT"] = str(port)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # lines reach honcho as they are written
    emulated = not env.get("AWS_ENDPOINT_URL")
    if emulated:
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{env.get('AWS_EMULATOR_PORT') or _free_port()}"
        # moto takes any credentials; these keep boto3 from looking for real ones.
        env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return env, emulated


def check_services(env: dict[str, str]) -> None:
    """PostgreSQL and Redis answer, and the database exists (it is created if not)."""
    redis = urlparse(env.get("CELERY_BROKER_URL") or env["REDIS_URL"])
    if redis.scheme.startswith("redis") and not _reachable(redis.hostname or "127.0.0.1", redis.port or 6379):
        raise SetupError(f"Redis does not answer at {redis.hostname}:{redis.port or 6379} (REDIS_URL).")
    database = urlparse(env["DATABASE_URL"])
    if not database.scheme.startswith("postgres"):
        return
    host, db_port = database.hostname or "127.0.0.1", database.port or 5432
    if not _reachable(host, db_port):
        raise SetupError(f"PostgreSQL does not answer at {host}:{db_port} (DATABASE_URL).")
    import psycopg

    name = database.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise SetupError(f"DATABASE_URL names no usable database: {name!r}.")
    server = database._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            print(f"Creating the database {name}.", flush=True)
            admin.execute(f'CREATE DATABASE "{name}"')


def processes(
    procfile: dict[str, str], *, groups: list[str], scale: dict[str, int], emulated: bool
) -> list[tuple[str, str, dict[str, str]]]:
    """(name, command, extra environment) of every process honcho starts."""
    unknown = sorted(set(scale) - set(groups))
    if unknown:
        raise SetupError(f"--scale names no worker group: {', '.join(unknown)} (groups: {', '.join(groups)}).")
    started = []
    for kind, command in procfile.items():
        if kind == RELEASE or (kind == EMULATOR and not emulated):
            continue
        if kind != WORKER:
            started.append((kind, command, {"HONCHO_PROCESS_NAME": f"{kind}.1"}))
            continue
        for group in groups:
            count = scale.get(group, 1)
            for number in range(1, count + 1):
                name = f"{kind}.{group}" + (f".{number}" if count > 1 else "")
                extra = {"WORKER_GROUP": group, "HONCHO_PROCESS_NAME": f"{kind}.{group}.{number}"}
                started.append((name, command, extra))
    return started


def _groups(env: dict[str, str]) -> list[tuple[str, str, int]]:
    """(name, queues, concurrency) of each worker group, as the workers will read them."""
    script = (
        "import django; django.setup()\n"
        "from tasks.workers import worker_groups\n"
        "for g in worker_groups(): print(g.name, ','.join(g.queues), g.concurrency)\n"
    )
    result = subprocess.run(  # noqa: S603  (this interpreter, our own script)
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SetupError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "WORKER_GROUPS")
    return [(name, queues, int(n)) for name, queues, n in (line.split() for line in result.stdout.splitlines())]


def _parse_scale(items: list[str]) -> dict[str, int]:
    scale = {}
    for item in (part for value in items for part in value.split(",") if part):
        group, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise SetupError(f"--scale takes group=count, not {item!r}.")
        scale[group] = int(count)
    return scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--scale", action="append", default=[], help="group=count: more workers of a group")
    args = parser.parse_args(argv)

    from honcho.environ import parse_procfile
    from honcho.manager import Manager
    from honcho.printer import Printer

    try:
        env, emulated = environment(port=args.port, base=dict(os.environ))
        check_services(env)
        procfile = dict(parse_procfile(PROCFILE.read_text()).processes)
        groups = _groups(env)
        started = processes(procfile, groups=[g[0] for g in groups], scale=_parse_scale(args.scale), emulated=emulated)
    except SetupError as error:
        print(f"make services: {error}", file=sys.stderr)
        return 2

    if RELEASE in procfile:
        print(f"release: {procfile[RELEASE]}", flush=True)
        # The Procfile's own line, run by the shell as honcho would run it.
        release = subprocess.run(["/bin/sh", "-c", procfile[RELEASE]], cwd=ROOT, env=env, check=False)  # noqa: S603
        if release.returncode != 0:
            print("make services: the release step failed.", file=sys.stderr)
            return 1
    print(
        f"Starting the services mode: API on http://127.0.0.1:{args.port}, "
        f"AWS {'emulated at ' + env['AWS_ENDPOINT_URL'] if emulated else env['AWS_ENDPOINT_URL']}.",
        *(f"  worker group {name}: {queues} ({concurrency} processes)" for name, queues, concurrency in groups),
        sep="\n",
        flush=True,
    )

    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    for name, command, extra in started:
        manager.add_process(name, command, env={**env, **extra}, cwd=str(ROOT))
    manager.loop()
    # Stopped by Ctrl-C or SIGTERM, with every process gone: that is a clean stop.
    return 0 if manager.returncode in (130, 143) else int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
