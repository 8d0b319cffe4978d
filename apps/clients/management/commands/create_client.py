import re
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from apps.accounts import api as accounts
from apps.clients.contracts import ALL_SCOPES, OPERATIONS_ADMIN, IssuedToken, PayerGrant
from apps.clients.keys import sigv4_key_issue
from apps.clients.models import ApiClient
from apps.clients.services import InvalidGrant, UnknownScope, client_create, parse_grant

IAM_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]+$")


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
        parser.add_argument(
            "--sigv4",
            action="store_true",
            help="Also issue an access key pair for Signature Version 4 on the legacy paths (printed once)",
        )
        parser.add_argument(
            "--iam-arn",
            action="append",
            dest="iam_arns",
            default=[],
            metavar="ARN",
            help="An IAM principal ARN that acts as this client on the legacy paths behind API Gateway's IAM "
            "authorization (repeatable)",
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
        bad_arns = [arn for arn in options["iam_arns"] if not IAM_ARN.match(arn)]
        if bad_arns:
            raise CommandError(
                f"Not an IAM principal ARN: {', '.join(bad_arns)} (arn:aws:iam::<account>:<user|role>/...)."
            )
        lifetime = None
        if options["days"] is not None:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1.")
            lifetime = timedelta(days=options["days"])
        try:
            with transaction.atomic():
                issued, key_pair = self._create(options, scopes, grants, lifetime)
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
        if key_pair is not None:
            self.stdout.write(f"access_key_id={key_pair[0]}")
            self.stdout.write(f"secret_access_key={key_pair[1]}")

    def _create(
        self, options: dict[str, Any], scopes: list[str], grants: list[PayerGrant], lifetime: timedelta | None
    ) -> tuple[IssuedToken, tuple[str, str] | None]:
        issued = client_create(
            name=options["name"],
            scopes=scopes,
            payers=grants,
            all_payers=options["all_payers"],
            token_lifetime=lifetime,
        )
        client = ApiClient.objects.get(id=issued.client_id)
        if options["iam_arns"]:
            client.iam_arns = sorted(set(options["iam_arns"]))
            client.save(update_fields=["iam_arns"])
        key_pair = sigv4_key_issue(client=client) if options["sigv4"] else None
        return issued, key_pair
