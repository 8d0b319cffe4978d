"""The clients context's public surface."""

from django.db.models import Q

from apps.clients.authentication import MISSING_TOKEN, GatewayRefusal, LegacyAuthentication
from apps.clients.contracts import (
    ALL_SCOPES,
    OPERATIONS_ADMIN,
    Access,
    ClientSummary,
    IssuedToken,
    PayerGrant,
    PayerNotGranted,
    Principal,
)
from apps.clients.services import client_access, client_create, client_get, token_authenticate

__all__ = [
    "ALL_SCOPES",
    "MISSING_TOKEN",
    "OPERATIONS_ADMIN",
    "Access",
    "ClientSummary",
    "GatewayRefusal",
    "IssuedToken",
    "LegacyAuthentication",
    "PayerGrant",
    "PayerNotGranted",
    "Principal",
    "client_access",
    "client_create",
    "client_get",
    "granted",
    "token_authenticate",
]


def granted(access: Access, *, payer_field: str = "payer", environment_field: str | None = "environment") -> Q:
    """A query filter: the rows whose payer (and environment) ``access`` covers.

    Every selector that serves a caller narrows its queryset with this; nothing filters
    by tenant in a view. ``environment_field`` None: the row has no environment (a grant
    narrowed to environments then still covers the payer's rows).
    """
    if access.all_payers:
        return Q()
    condition = Q(pk__in=[])  # no grant: nothing
    for grant in access.grants:
        clause = Q(**{payer_field: grant.payer})
        if grant.environments and environment_field is not None:
            clause &= Q(**{f"{environment_field}__in": list(grant.environments)})
        condition |= clause
    return condition
