from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.kernel.deadletters import dead_letter_discard, dead_letter_list, dead_letter_redrive
from apps.kernel.errors import ApplicationError


class Command(BaseCommand):
    help = "List, redrive or discard dead letters (messages whose handler gave up)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="the open dead letters (or --state)")
        listing.add_argument("--state", default="open", choices=["open", "redriven", "discarded"])
        redrive = actions.add_parser("redrive", help="hand messages to their handlers again")
        redrive.add_argument("ids", nargs="*")
        redrive.add_argument("--all", action="store_true", help="every open dead letter")
        discard = actions.add_parser("discard", help="close dead letters without redriving them")
        discard.add_argument("ids", nargs="+")
        discard.add_argument("--reason", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        by = "manage.py dead_letters"
        if options["action"] == "list":
            total, letters = dead_letter_list(state=options["state"], limit=500)
            for letter in letters:
                self.stdout.write(
                    f"{letter.id}  {letter.created_at:%Y-%m-%d %H:%M:%S}  {letter.message_type:<18} "
                    f"{letter.handler:<30} {letter.attempts} attempt(s)  {letter.error_code}: {letter.error[:80]}"
                )
            self.stdout.write(f"{total} {options['state']} dead letter(s)")
            return
        if options["action"] == "redrive":
            ids = (
                [letter.id for letter in dead_letter_list(state="open", limit=10_000)[1]]
                if options["all"]
                else options["ids"]
            )
            if not ids:
                raise CommandError("Name dead letters to redrive, or use --all.")
            failures = 0
            for dead_letter_id in ids:
                try:
                    letter = dead_letter_redrive(dead_letter_id=dead_letter_id, by=by)
                    self.stdout.write(f"{dead_letter_id}: {letter.resolution}")
                except ApplicationError as error:
                    failures += 1
                    self.stderr.write(f"{dead_letter_id}: not redriven: {error.message}")
            if failures:
                raise CommandError(f"{failures} of {len(ids)} could not be redriven.")
            return
        for dead_letter_id in options["ids"]:
            try:
                dead_letter_discard(dead_letter_id=dead_letter_id, reason=options["reason"], by=by)
                self.stdout.write(f"{dead_letter_id}: discarded")
            except ApplicationError as error:
                raise CommandError(f"{dead_letter_id}: {error.message}") from error
