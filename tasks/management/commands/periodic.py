from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tasks.periodic import JOBS


class Command(BaseCommand):
    help = "Run periodic jobs once now (what Celery beat or the Zappa schedules run on their own)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("jobs", nargs="*", help=f"jobs to run (default: all): {', '.join(j.name for j in JOBS)}")

    def handle(self, *args: Any, **options: Any) -> None:
        by_name = {job.name: job for job in JOBS}
        unknown = sorted(set(options["jobs"]) - set(by_name))
        if unknown:
            raise CommandError(f"Unknown job(s): {', '.join(unknown)}. Known: {', '.join(by_name)}.")
        for name in options["jobs"] or by_name:
            result = by_name[name].function()
            self.stdout.write(f"{name}: {result}")
