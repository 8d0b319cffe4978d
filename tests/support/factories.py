import copy
from typing import Any

from apps.intake.rest.views import EXAMPLE_BODY

# The documented example request (the OpenAPI example and the README use the same body).
VALID_BODY: dict[str, Any] = copy.deepcopy(EXAMPLE_BODY)


def request_body(**overrides: Any) -> dict[str, Any]:
    """A valid request body; ``tags__project_short_name="x"`` style keys reach nested fields."""
    body = copy.deepcopy(VALID_BODY)
    for key, value in overrides.items():
        target = body
        *parents, leaf = key.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body


_sequence = iter(range(1, 10**9))


def payer(name: str = "demo", **overrides: Any) -> Any:
    """A payer (offline: a made-up management account unless one is given), upserted: every
    environment (dev, tst, stg, prd) and two regions unless ``overrides`` say otherwise."""
    from apps.accounts import api as accounts

    fields: dict[str, Any] = {
        "management_account_id": "111111111111",
        "email_division": name,
        "email_domain": "example.com",
        "allowed_environments": ["dev", "tst", "stg", "prd"],
        "allowed_regions": ["us-east-1", "us-west-2"],
        **overrides,
    }
    return accounts.payer_upsert(name=name, **fields)


def account(*, payer_name: str = "demo", aws_account_id: str | None = None, **fields: Any) -> Any:
    """A managed account row (active, vended) of ``payer_name``, which must exist."""
    from apps.accounts.models import ManagedAccount, Payer
    from apps.kernel import clock, ids

    number = next(_sequence)
    now = clock.now()
    values: dict[str, Any] = {
        "id": ids.new_id(),
        "payer": Payer.objects.get(name=payer_name),
        "aws_account_id": aws_account_id or f"{990000000000 + number}",
        "email": f"aws.{payer_name}.account{number}.dev@example.com",
        "name": f"{payer_name}-account{number}",
        "environment": "dev",
        "status": ManagedAccount.Status.ACTIVE,
        "source": ManagedAccount.Source.VENDED,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return ManagedAccount.objects.create(**values)


def request(*, client_id: str = "00000000-0000-4000-8000-0000000c1e47", **overrides: Any) -> Any:
    """An accepted account request (through intake's service: its outbox message too); the
    payer it names must exist. ``overrides`` reach the body as in ``request_body``."""
    from apps.intake.services import request_create

    return request_create(client_id=client_id, data=request_body(**overrides))
