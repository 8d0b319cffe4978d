from typing import Any

from django.core.management.base import BaseCommand

from tasks.retention import prune


class Command(BaseCommand):
    help = "Prune the tables that grow with use, each by its RETENTION_* setting (the audit log is never pruned)."

    def handle(self, *args: Any, **options: Any) -> None:
        for table, deleted in prune().items():
            self.stdout.write(f"{table}: {deleted} deleted")
