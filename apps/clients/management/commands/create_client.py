from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from apps.clients.contracts import ALL_SCOPES
from apps.clients.models import ApiClient
from apps.clients.services import UnknownScope, client_create


class Command(BaseCommand):
    help = "Create an API client and print its token (shown once; only its hash is stored)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            help=f"A scope to grant (repeatable); default all: {', '.join(ALL_SCOPES)}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = client_create(name=options["name"], scopes=options["scopes"] or list(ALL_SCOPES))
        except UnknownScope as error:
            raise CommandError(error.message) from error
        except IntegrityError as error:
            if ApiClient.objects.filter(name=options["name"]).exists():
                raise CommandError(f"A client named {options['name']!r} already exists.") from error
            raise
        self.stdout.write(f"client {issued.client_name} ({issued.client_id}) scopes: {' '.join(issued.scopes)}")
        self.stdout.write(issued.token)
