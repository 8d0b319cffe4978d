"""``manage.py reconcile``: run the scheduled pollers once, now (after a known change in
AWS, or to check a new payer's access)."""

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from tasks.periodic import poll_compliance, reconcile_accounts


class Command(BaseCommand):
    help = "Reconcile every active payer's Organization, then poll Config rule compliance of active accounts."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--skip-compliance", action="store_true", help="Only reconcile the Organizations.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("accounts.reconcile: " + json.dumps(reconcile_accounts(), sort_keys=True))
        if not options["skip_compliance"]:
            self.stdout.write("compliance.poll: " + json.dumps(poll_compliance(), sort_keys=True))
