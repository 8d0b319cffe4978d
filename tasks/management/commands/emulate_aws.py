import signal
import sys
import threading
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from apps.clients import api as clients
from apps.cloud.emulator import start_emulator
from tasks.demo import seed_demo

LOOPBACK = {"127.0.0.1", "localhost"}


class Command(BaseCommand):
    help = (
        "Serve the emulated AWS (moto) on the loopback port of AWS_ENDPOINT_URL and seed the demo "
        "organization, payer, blueprints, IP pools and API client — the services mode's stand-in for "
        "AWS on one machine (`make services`). Runs until stopped."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--no-seed", action="store_true", help="serve an empty emulator")
        parser.add_argument(
            "--grace", type=float, default=3.0, help="seconds it keeps serving once asked to stop (default 3)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        endpoint = urlparse(settings.AWS_ENDPOINT_URL or "")
        if endpoint.scheme != "http" or endpoint.hostname not in LOOPBACK or not endpoint.port:
            raise CommandError(
                f"AWS_ENDPOINT_URL must be http://127.0.0.1:<port> for the emulator to serve on, "
                f"not {settings.AWS_ENDPOINT_URL!r}."
            )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())

        emulator = start_emulator(port=endpoint.port)
        try:
            var_dir = Path(settings.VAR_DIR)
            var_dir.mkdir(parents=True, exist_ok=True)
            (var_dir / "aws-endpoint").write_text(emulator.url + "\n")
            if not options["no_seed"]:
                self._banner(emulator.url, var_dir, self._seed(var_dir))
            stop.wait()
            # Stopped with everything else (Ctrl-C under honcho): keep answering while the
            # workers' warm shutdown finishes the steps in flight, which are calling it.
            time.sleep(options["grace"])
        finally:
            emulator.stop()

    def _seed(self, var_dir: Path) -> str | None:
        """The demo's API token: a new one on a fresh database; on a database an earlier
        start seeded, the emulator's side again and the token kept from then."""
        try:
            # seed_demo builds the emulated side (Organization, log bucket, SES sender) and
            # then the rows; on a seeded database the demo client already exists, so the
            # rows roll back and the emulator — new and empty at every start — is set up.
            with transaction.atomic():
                return seed_demo(var_dir=var_dir).token
        except IntegrityError:
            pass
        token_file = var_dir / "demo-token"
        token = token_file.read_text().strip() if token_file.exists() else ""
        return token if token and clients.token_authenticate(token=token) else None

    def _banner(self, aws: str, var_dir: Path, token: str | None) -> None:
        base = settings.BESPOKE_PUBLIC_URL.rstrip("/")
        token_lines = (
            [f"  Token      {token}", f"             (also in {var_dir / 'demo-token'})"]
            if token
            else [
                "  Token      the demo client exists from an earlier start, but its token is not in",
                f"             {var_dir / 'demo-token'}: make one with",
                "             manage.py create_client NAME --scope requests:read --scope requests:write",
            ]
        )
        lines = [
            "",
            "Bespoke is running (services mode: PostgreSQL, Redis, gunicorn, Celery workers and beat;",
            "AWS emulated, with the demo organization).",
            f"  API        {base}/v1/account-requests",
            f"  Admin      {base}/admin/   user admin, password in {var_dir / 'admin-password'}",
            f"  Readiness  {base}/readyz   (workers and their queues)",
            f"  AWS (moto) {aws}",
            *token_lines,
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        sys.stdout.flush()
