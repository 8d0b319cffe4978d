import sys
import time
from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.kernel import clock
from apps.workflow.contracts import RunSummary, StepSummary
from apps.workflow.selectors import run_for_request, run_get

_BAR_WIDTH = 24
_GLYPHS = {"pending": "·", "running": "▶", "succeeded": "✔", "failed": "✘", "skipped": "-"}


def _elapsed(step: StepSummary, now: datetime) -> float:
    if step.started_at is None:
        return 0.0
    return ((step.finished_at or now) - step.started_at).total_seconds()


def render(run: RunSummary, *, now: datetime) -> list[str]:
    """One line per step: state, a bar of its share of the run's time so far, attempts."""
    started = run.started_at
    span = max(((run.finished_at or now) - started).total_seconds(), 0.001)
    width = max(len(step.name) for step in run.steps)
    lines = [f"run {run.id}  {run.status}  {span:6.1f}s"]
    for step in run.steps:
        offset = 0 if step.started_at is None else int(_BAR_WIDTH * (step.started_at - started).total_seconds() / span)
        length = 0 if step.started_at is None else max(1, int(_BAR_WIDTH * _elapsed(step, now) / span))
        offset = min(offset, _BAR_WIDTH - 1)
        length = min(length, _BAR_WIDTH - offset)
        fill = "█" if step.state in ("succeeded", "running") else "▒"
        bar = " " * offset + fill * length + " " * (_BAR_WIDTH - offset - length)
        detail = f"attempt {step.attempts}" if step.attempts > 1 else ""
        if step.state in ("failed", "skipped") or (step.state == "running" and step.message):
            detail = f"{detail}  {step.message}".strip()
        glyph = _GLYPHS.get(step.state, "?")
        seconds = _elapsed(step, now)
        lines.append(f"  {glyph} {step.name:<{width}} |{bar}| {step.state:<9} {seconds:5.1f}s  {detail}".rstrip())
    if run.failure:
        lines.append(f"  failed: {run.failure}")
    return lines


class Command(BaseCommand):
    help = "Show a live progress bar per step of a request's run until it ends."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("id", help="an account request id (or a run id)")
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between refreshes")
        parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        out = self.stdout
        interactive = out.isatty()
        deadline = time.monotonic() + options["timeout"]
        drawn = 0
        while True:
            run = run_for_request(request_id=options["id"]) or run_get(run_id=options["id"])
            if run is None:
                if time.monotonic() > deadline:
                    raise CommandError(f"No run for {options['id']}.")
                time.sleep(options["interval"])
                continue
            lines = render(run, now=clock.now())
            if interactive and drawn:
                out.write(f"\x1b[{drawn}F\x1b[J", ending="")
            if interactive or run.status != "running":
                out.write("\n".join(lines))
                out.flush()
                drawn = len(lines)
            if run.status != "running":
                if run.status == "failed":
                    sys.exit(1)
                return
            if time.monotonic() > deadline:
                raise CommandError("Timed out while the run was still going.")
            time.sleep(options["interval"])
