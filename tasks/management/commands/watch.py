"""``manage.py watch <request id>``: follow one account request live — a progress bar per
step and one for the whole run — until it ends; exits 0 when it succeeded, 1 when it failed
or was cancelled, 2 when ``--timeout`` passed first."""

import sys
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from apps.intake import api as intake
from apps.workflow import api as workflow

ENDED = {"succeeded": 0, "failed": 1, "cancelled": 1}
STEP_DONE = {"succeeded", "failed", "skipped"}
# How far a step's bar is by its state: a running step is half-way (its length is unknown).
FILLED = {"pending": 0, "running": 50}
TIMED_OUT = 2


class Command(BaseCommand):
    help = (
        "Follow an account request: a progress bar per step and for the run, until it ends. "
        "Exits 0 if it succeeded, 1 if it failed or was cancelled, 2 on --timeout."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("request_id")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks")
        parser.add_argument("--timeout", type=float, default=0.0, help="give up after this many seconds (0: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        request_id = options["request_id"]
        if intake.request_get(request_id=request_id, viewer=None) is None:
            raise CommandError(f"No account request {request_id}.")
        console = Console(file=self.stdout, force_terminal=self.stdout.isatty(), width=100)  # type: ignore[arg-type]
        deadline = time.monotonic() + options["timeout"] if options["timeout"] else None
        with Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[state]:<10} {task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            bars: dict[str, TaskID] = {}
            total = progress.add_task("run", total=1, state="", note="")
            while True:
                status = self._look(progress, bars, total, request_id)
                if status in ENDED:
                    progress.refresh()
                    break
                if deadline is not None and time.monotonic() > deadline:
                    progress.refresh()
                    self.stderr.write(f"Still {status} after {options['timeout']:g} s.")
                    sys.exit(TIMED_OUT)
                time.sleep(options["interval"])
        request = intake.request_get(request_id=request_id, viewer=None)
        assert request is not None
        self.stdout.write(f"{request_id}: {request.status}")
        if ENDED[request.status]:
            run = workflow.run_for_request(request_id=request_id)
            if run is not None and run.failure:
                self.stderr.write(run.failure)
            sys.exit(ENDED[request.status])

    def _look(self, progress: Progress, bars: dict[str, TaskID], total: TaskID, request_id: str) -> str:
        request = intake.request_get(request_id=request_id, viewer=None)
        assert request is not None
        run = workflow.run_for_request(request_id=request_id)
        steps = run.steps if run is not None else ()
        for step in steps:
            if step.name not in bars:
                bars[step.name] = progress.add_task(step.name, total=100, state="", note="")
            done = step.state in STEP_DONE
            note = f"attempt {step.attempts}" if step.attempts > 1 else ""
            if step.state == "failed":
                note = (step.error_code or step.message)[:40]
            progress.update(
                bars[step.name], completed=100 if done else FILLED.get(step.state, 0), state=step.state, note=note
            )
            if done:
                progress.stop_task(bars[step.name])
        finished = sum(1 for step in steps if step.state in STEP_DONE)
        progress.update(
            total,
            total=max(1, len(steps)),
            completed=finished,
            state=request.status,
            note=f"{finished}/{len(steps)} steps",
        )
        return request.status
