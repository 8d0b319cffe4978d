from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from project.celery import app
from tasks.workers import WorkerGroupsError, node_name, worker_group


class Command(BaseCommand):
    help = (
        "Run the Celery worker of one worker group (WORKER_GROUPS): its queues, its concurrency, "
        "named <group>.<instance>@<host> for remote control (drain, /readyz)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("group", help="a group of WORKER_GROUPS, e.g. network")
        parser.add_argument("--concurrency", type=int, help="processes (default: the group's)")
        parser.add_argument("--instance", help="the node's instance name (default: honcho's number, else the pid)")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            group = worker_group(options["group"])
        except WorkerGroupsError as error:
            raise CommandError(str(error)) from error
        concurrency = options["concurrency"] or group.concurrency
        app.worker_main(
            [
                "worker",
                "--queues",
                ",".join(group.queues),
                "--concurrency",
                str(concurrency),
                "--hostname",
                node_name(group.name, options["instance"]),
                # Workers learn nothing from each other; remote control (drain, inspect) stays on.
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                options["loglevel"],
            ]
        )
