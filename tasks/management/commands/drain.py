import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tasks.fleet import DrainProgress, drain, shutdown, workers_consuming
from tasks.workers import group_of


class Command(BaseCommand):
    help = (
        "Drain Celery workers: they stop taking messages from every queue and finish the steps they "
        "hold; exits 0 once none is in flight, 1 if some still are after --timeout. Name the workers "
        "(e.g. network.1@host-3), or pick them with --group, --host or --all."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("nodes", nargs="*", help="worker node names, as /readyz lists them")
        parser.add_argument("--group", action="append", default=[], help="every worker of this group")
        parser.add_argument("--host", action="append", default=[], help="every worker on this host")
        parser.add_argument("--all", action="store_true", help="every worker that answers")
        parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for in-flight steps")
        parser.add_argument("--shutdown", action="store_true", help="then stop the drained workers (warm shutdown)")

    def handle(self, *args: Any, **options: Any) -> None:
        known = workers_consuming(timeout=2.0)
        chosen = self._choose(known, options)
        if not chosen:
            raise CommandError(
                "No worker answered that matches; workers answering: " + (", ".join(known) or "none") + "."
            )
        self.stdout.write(f"Draining {', '.join(chosen)}.")
        shown: dict[str, str] = {}

        def report(progress: DrainProgress) -> None:
            for node in chosen:
                line = (
                    f"{node}: {len(progress.in_flight[node])} in flight ({', '.join(progress.in_flight[node])})"
                    if node in progress.in_flight
                    else f"{node}: nothing in flight"
                )
                if shown.get(node) != line:
                    shown[node] = line
                    self.stdout.write(line)
                    sys.stdout.flush()

        progress = drain(chosen, wait_seconds=options["timeout"], on_progress=report)
        for node, queues in progress.cancelled.items():
            self.stdout.write(f"{node} no longer consumes {', '.join(queues) or 'any queue'}.")
        if not progress.finished:
            self.stderr.write(f"Still in flight after {options['timeout']:.0f} s: {progress.in_flight}")
            sys.exit(1)
        if options["shutdown"]:
            shutdown(chosen)
            self.stdout.write("Asked them to stop.")
        else:
            self.stdout.write("Drained; they stay idle until restarted (or stopped: --shutdown).")

    def _choose(self, known: dict[str, list[str]], options: dict[str, Any]) -> list[str]:
        if not (options["nodes"] or options["group"] or options["host"] or options["all"]):
            raise CommandError("Name the workers to drain, or use --group, --host or --all.")
        missing = [node for node in options["nodes"] if node not in known]
        if missing:
            raise CommandError(f"No answer from {', '.join(missing)}; answering: {', '.join(known) or 'none'}.")
        return [
            node
            for node in known
            if options["all"]
            or node in options["nodes"]
            or group_of(node) in options["group"]
            or node.rsplit("@", 1)[-1] in options["host"]
        ]
