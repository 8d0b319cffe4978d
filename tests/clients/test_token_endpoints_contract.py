"""The token endpoints against their schema, each call with a throwaway token.

Rotating or revoking the token a fuzz run uses would lock the run out, so the schema fuzz
(``tests/architecture/test_schema_fuzz.py``, ``schemathesis.toml``) leaves ``/v1/tokens``
out and these tests cover it: every generated call (every check schemathesis has) is made
with a token minted for it alone, and the documented lives of mint, rotate and revoke are
checked answer by answer."""

import itertools
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from apps.clients import api as clients

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/v1/schema?format=json", app).include(path_regex="^/v1/tokens")

_names = itertools.count()
pytestmark = pytest.mark.django_db


def _throwaway(*scopes: str) -> clients.IssuedToken:
    """A client of its own, with every scope (an operator of every payer) unless ``scopes``."""
    if scopes:
        return clients.client_create(name=f"throwaway-{next(_names)}", scopes=list(scopes), payers=["demo"])
    return clients.client_create(name=f"throwaway-{next(_names)}", scopes=list(clients.ALL_SCOPES), all_payers=True)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
def test_every_token_operation_answers_as_documented(case: Any, in_transaction: None) -> None:
    case.call_and_validate(headers=_bearer(_throwaway().token))


def test_mint_rotate_and_revoke_answer_as_documented_and_touch_only_their_token(in_transaction: None) -> None:
    bystander = _throwaway()
    throwaway = _throwaway()
    mint = schema["/v1/tokens"]["POST"]
    rotate = schema["/v1/tokens/rotate"]["POST"]
    revoke = schema["/v1/tokens/{prefix}"]["DELETE"]
    listing = schema["/v1/tokens"]["GET"]

    minted = mint.Case(body={"scopes": ["requests:read"]}).call_and_validate(headers=_bearer(throwaway.token))
    rotated = rotate.Case().call_and_validate(headers=_bearer(throwaway.token))
    replacement = rotated.json()["token"]
    revoked = revoke.Case(path_parameters={"prefix": minted.json()["prefix"]}).call_and_validate(
        headers=_bearer(replacement)
    )
    listed = listing.Case().call_and_validate(headers=_bearer(replacement))

    assert minted.status_code == 201
    assert minted.json()["scopes"] == ["requests:read"]
    assert rotated.status_code == 201
    assert revoked.status_code == 204
    by_prefix = {token["prefix"]: token for token in listed.json()["results"]}
    assert by_prefix[throwaway.prefix]["revoked_at"] is not None
    assert by_prefix[minted.json()["prefix"]]["revoked_at"] is not None
    assert by_prefix[rotated.json()["prefix"]]["current"] is True
    assert listing.Case().call(headers=_bearer(throwaway.token)).status_code == 401
    assert listing.Case().call(headers=_bearer(bystander.token)).status_code == 200


def test_refused_mints_and_revokes_answer_as_documented(in_transaction: None) -> None:
    narrow = _throwaway("requests:read")
    other = _throwaway()
    mint = schema["/v1/tokens"]["POST"]
    revoke = schema["/v1/tokens/{prefix}"]["DELETE"]

    wider = mint.Case(body={"scopes": ["requests:write"]}).call_and_validate(headers=_bearer(narrow.token))
    later = mint.Case(body={"expires_at": "2999-01-01T00:00:00Z"}).call_and_validate(headers=_bearer(narrow.token))
    unknown = revoke.Case(path_parameters={"prefix": other.prefix}).call_and_validate(headers=_bearer(narrow.token))

    assert (wider.status_code, wider.json()["code"]) == (403, "token_scope_exceeded")
    assert (later.status_code, later.json()["code"]) == (403, "token_expiry_exceeded")
    assert unknown.status_code == 404  # another client's token is not this client's to see
