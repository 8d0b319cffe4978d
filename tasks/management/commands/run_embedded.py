import os
import sys
from argparse import ArgumentParser
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application
from django.db import connections
from waitress.server import create_server

from apps.cloud.emulator import start_emulator
from tasks.demo import DemoSeed, seed_demo
from tasks.embedded import periodic_jobs, worker_threads
from tasks.integrations_receiver import integrations_receiver


class Command(BaseCommand):
    help = "Run the whole service in one process: API, workers, outbox sweeper and emulated AWS."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--aws-port", type=int, default=0, help="moto's port (default: a free one)")
        parser.add_argument("--workers", type=int, default=4, help="worker threads")
        parser.add_argument("--http-threads", type=int, default=8, help="threads serving HTTP requests")
        parser.add_argument(
            "--keep-data",
            action="store_true",
            help="keep the database; by default it starts fresh, like the in-memory emulated AWS",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(parents=True, exist_ok=True)
        if not options["keep_data"]:
            self._delete_database()
        call_command("migrate", verbosity=0)

        with ExitStack() as stack:
            emulator = start_emulator(port=options["aws_port"])
            stack.callback(emulator.stop)
            settings.AWS_ENDPOINT_URL = emulator.url
            (var_dir / "aws-endpoint").write_text(emulator.url + "\n")
            base = f"http://{options['host']}:{options['port']}"
            if "BESPOKE_PUBLIC_URL" not in os.environ:
                settings.BESPOKE_PUBLIC_URL = base  # where the receiver calls back
            if not settings.INTEGRATION_ENDPOINTS:
                receiver = stack.enter_context(integrations_receiver(secret=settings.INTEGRATION_SIGNING_SECRET))
                settings.INTEGRATION_ENDPOINTS = [
                    f"active-directory={receiver}/active-directory",
                    f"cloudability={receiver}/cloudability",
                ]
            seed = seed_demo(var_dir=var_dir)
            stack.enter_context(worker_threads(concurrency=options["workers"]))
            stack.enter_context(periodic_jobs())
            # waitress, not Django's development server (whose listen queue of 10 resets
            # connections under a burst): threads in this process, so the in-process broker
            # and the worker threads stay shared with the API.
            server = create_server(
                StaticFilesHandler(get_wsgi_application()),
                host=options["host"],
                port=options["port"],
                threads=options["http_threads"],
                ident="bespoke",
            )
            stack.callback(server.close)
            self._banner(base, emulator.url, seed, var_dir)
            try:
                server.run()
            except KeyboardInterrupt:
                self.stdout.write("Stopping.")

    def _delete_database(self) -> None:
        database = settings.DATABASES["default"]
        if not str(database["ENGINE"]).endswith("sqlite3"):
            return
        connections["default"].close()
        path = Path(str(database["NAME"]))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def _banner(self, base: str, aws: str, seed: DemoSeed, var_dir: Path) -> None:
        token = seed.token
        lines = [
            "",
            "Bespoke is running (embedded mode: SQLite, in-process broker, emulated AWS).",
            f"  API        {base}/v1/account-requests   (docs: {base}/v1/docs)",
            f"  Admin      {base}/admin/   user admin, password {seed.admin_password}",
            f"  AWS (moto) {aws}",
            "  Tokens     (each shown once here, and kept in the file named)",
            f"    demo            payer demo, every scope      {token}",
            f"                    {var_dir / 'demo-token'}",
            f"    sandbox-portal  payer sandbox only           {var_dir / 'sandbox-token'}",
            f"    operator        every payer, every scope     {var_dir / 'operator-token'}",
            "",
            "Request an account:",
            f"  curl -s -X POST {base}/v1/account-requests \\",
            f'    -H "Authorization: Bearer {token}" -H "Content-Type: application/json" \\',
            "    -d @docs/examples/account-request.json",
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        sys.stdout.flush()
