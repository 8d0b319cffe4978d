from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from apps.accounts import api as accounts
from apps.clients.contracts import ALL_SCOPES, OPERATIONS_ADMIN
from apps.clients.models import ApiClient
from apps.clients.services import InvalidGrant, UnknownScope, client_create, parse_grant


class Command(BaseCommand):
    help = (
        "Create an API client with the scopes and payers it is granted, and print its token "
        "(shown once; only its hash is stored)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            metavar="SCOPE",
            help=f"A scope to grant (repeatable, at least one): {', '.join(ALL_SCOPES)}",
        )
        parser.add_argument(
            "--payer",
            action="append",
            dest="payers",
            default=[],
            metavar="PAYER[:ENV,ENV]",
            help="A payer whose requests and accounts the client may act on, optionally only some "
            "of its environments (repeatable, at least one unless --all-payers)",
        )
        parser.add_argument(
            "--all-payers",
            action="store_true",
            help=f"Every payer, present and future (only together with --scope {OPERATIONS_ADMIN})",
        )
        parser.add_argument("--days", type=int, default=None, help="The first token's life in days (default 90)")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes: list[str] = options["scopes"]
        payers: list[str] = options["payers"]
        known_payers = accounts.payer_names()
        if not scopes:
            raise CommandError(f"Name at least one --scope. Scopes: {', '.join(ALL_SCOPES)}.")
        if not payers and not options["all_payers"]:
            raise CommandError(
                "Name at least one --payer (PAYER or PAYER:ENV,ENV), or --all-payers for an operations:admin "
                f"client. Payers: {', '.join(known_payers) or 'none yet'}."
            )
        try:
            grants = [parse_grant(text) for text in payers]
        except InvalidGrant as error:
            raise CommandError(error.message) from error
        unknown = sorted({grant.payer for grant in grants} - set(known_payers))
        if unknown:
            raise CommandError(
                f"Unknown payer(s): {', '.join(unknown)}. Payers: {', '.join(known_payers) or 'none yet'}."
            )
        lifetime = None
        if options["days"] is not None:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1.")
            lifetime = timedelta(days=options["days"])
        try:
            issued = client_create(
                name=options["name"],
                scopes=scopes,
                payers=grants,
                all_payers=options["all_payers"],
                token_lifetime=lifetime,
            )
        except UnknownScope as error:
            raise CommandError(f"{error.message} Scopes: {', '.join(ALL_SCOPES)}.") from error
        except InvalidGrant as error:
            raise CommandError(error.message) from error
        except IntegrityError as error:
            if ApiClient.objects.filter(name=options["name"]).exists():
                raise CommandError(f"A client named {options['name']!r} already exists.") from error
            raise
        granted = "every payer" if options["all_payers"] else " ".join(str(g.payer) for g in grants)
        self.stdout.write(
            f"client {issued.client_name} ({issued.client_id}) scopes: {' '.join(issued.scopes)}"
            f" payers: {granted} expires: {issued.expires_at.isoformat() if issued.expires_at else 'never'}"
        )
        self.stdout.write(issued.token)
