"""Operators edit an API client in the admin: its scopes as a choice of the known scopes,
its payer grants inline (an active payer, some of its environments), every payer only for
an operations:admin client; its tokens are shown — scopes and expiry, never the digest —
and the admin neither makes clients nor issues tokens."""

from typing import Any

import pytest
from django.test import Client

from apps.accounts import api as accounts
from apps.accounts.models import Payer
from apps.clients import api as clients
from apps.clients.models import ApiClient, ApiToken, PayerGrant
from apps.clients.services import ALL_PAYERS_NEEDS_OPERATOR, NO_PAYER_GRANTED
from tests.support import factories
from tests.support.admin_forms import submitted
from tests.support.staff import OPERATORS, VIEWERS, logged_in, staff_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def payers(payer: accounts.PayerSummary) -> None:
    """``demo`` (dev, tst, stg, prd) and ``other`` (dev only)."""
    factories.payer(
        "other", management_account_id="222222222222", allowed_environments=["dev"], allowed_regions=["us-east-1"]
    )


@pytest.fixture
def portal(payers: None) -> clients.IssuedToken:
    return clients.client_create(name="portal", scopes=["requests:read", "requests:write"], payers=["demo"])


@pytest.fixture
def operator() -> Client:
    return logged_in(staff_in(OPERATORS))


def page_of(portal: clients.IssuedToken) -> str:
    return f"/admin/clients/apiclient/{portal.client_id}/change/"


def save(operator: Client, portal: clients.IssuedToken, **changes: Any) -> Any:
    """The client's page submitted with ``changes`` (``grants-1-payer="other"``: the blank grant row)."""
    form = submitted(operator.get(page_of(portal)))
    form.update(changes)
    return operator.post(page_of(portal), {key: value for key, value in form.items() if value is not None})


def saved(answer: Any) -> bool:
    """True for the redirect after a save; otherwise fails showing the form's errors."""
    if answer.status_code == 302:
        return True
    shown = [answer.context["adminform"].form.errors] if answer.context else []
    shown += [
        inline.formset.errors + inline.formset.non_form_errors() for inline in answer.context["inline_admin_formsets"]
    ]
    raise AssertionError(f"not saved ({answer.status_code}): {shown}")


def errors(answer: Any) -> str:
    assert answer.status_code == 200, f"saved ({answer.status_code}) where an error was expected"
    return answer.content.decode()


def grants(portal: clients.IssuedToken) -> dict[str, list[str]]:
    return {grant.payer: grant.environments for grant in PayerGrant.objects.filter(client_id=portal.client_id)}


def test_an_operator_grants_another_payer_narrowed_to_some_environments(
    operator: Client, portal: clients.IssuedToken
) -> None:
    answer = save(operator, portal, **{"grants-1-payer": "other", "grants-1-environments": "dev"})

    assert saved(answer)
    assert grants(portal) == {"demo": [], "other": ["dev"]}
    access = clients.client_access(client_id=portal.client_id)
    assert access.covers("other", "dev")
    assert not access.covers("other", "prd")


def test_environments_are_kept_sorted_and_once(operator: Client, portal: clients.IssuedToken) -> None:
    answer = save(operator, portal, **{"grants-0-environments": "tst, dev,tst"})

    assert saved(answer)
    assert grants(portal) == {"demo": ["dev", "tst"]}


def test_an_environment_the_payer_does_not_have_is_refused(operator: Client, portal: clients.IssuedToken) -> None:
    shown = errors(save(operator, portal, **{"grants-0-environments": "dev, qa"}))

    assert "Payer demo has no environment qa; it allows dev, tst, stg, prd." in shown
    assert grants(portal) == {"demo": []}


def test_an_environment_of_another_payer_is_refused(operator: Client, portal: clients.IssuedToken) -> None:
    shown = errors(save(operator, portal, **{"grants-1-payer": "other", "grants-1-environments": "prd"}))

    assert "Payer other has no environment prd; it allows dev." in shown
    assert grants(portal) == {"demo": []}


def test_only_existing_active_payers_can_be_granted(operator: Client, portal: clients.IssuedToken) -> None:
    page = operator.get(page_of(portal)).content.decode()
    shown = errors(save(operator, portal, **{"grants-1-payer": "nobody"}))

    assert '<option value="other">other</option>' in page
    assert "Select a valid choice. nobody is not one of the available choices." in shown
    assert grants(portal) == {"demo": []}


def test_a_payer_is_granted_once(operator: Client, portal: clients.IssuedToken) -> None:
    shown = errors(save(operator, portal, **{"grants-1-payer": "demo", "grants-1-environments": "dev"}))

    assert "Payer grant with this Client and Payer already exists." in shown
    assert grants(portal) == {"demo": []}


def test_every_payer_is_refused_without_operations_admin(operator: Client, portal: clients.IssuedToken) -> None:
    shown = errors(save(operator, portal, all_payers="on"))

    assert ALL_PAYERS_NEEDS_OPERATOR in shown
    assert ApiClient.objects.get(id=portal.client_id).all_payers is False


def test_every_payer_is_granted_with_operations_admin(operator: Client, portal: clients.IssuedToken) -> None:
    answer = save(operator, portal, all_payers="on", scopes=["operations:admin", "requests:read", "requests:write"])

    assert saved(answer)
    client = ApiClient.objects.get(id=portal.client_id)
    assert (client.all_payers, client.scopes) == (True, ["operations:admin", "requests:read", "requests:write"])


def test_dropping_operations_admin_from_a_client_of_every_payer_is_refused(
    operator: Client, portal: clients.IssuedToken
) -> None:
    ApiClient.objects.filter(id=portal.client_id).update(all_payers=True, scopes=["operations:admin"])

    shown = errors(save(operator, portal, scopes=["requests:read"]))

    assert ALL_PAYERS_NEEDS_OPERATOR in shown


def test_a_client_with_no_payer_left_is_refused(operator: Client, portal: clients.IssuedToken) -> None:
    shown = errors(save(operator, portal, **{"grants-0-DELETE": "on"}))

    assert NO_PAYER_GRANTED in shown
    assert grants(portal) == {"demo": []}


def test_removing_a_grant_leaves_the_others(operator: Client, portal: clients.IssuedToken) -> None:
    PayerGrant.objects.create(client_id=portal.client_id, payer="other", environments=["dev"])

    answer = save(operator, portal, **{"grants-0-DELETE": "on"})  # grants are ordered by payer: demo first

    assert saved(answer)
    assert grants(portal) == {"other": ["dev"]}


def test_scopes_are_chosen_among_the_known_scopes(operator: Client, portal: clients.IssuedToken) -> None:
    page = operator.get(page_of(portal)).content.decode()
    shown = errors(save(operator, portal, scopes=["requests:read", "root:everything"]))

    for scope in clients.ALL_SCOPES:
        assert f'type="checkbox" name="scopes" value="{scope}"' in page
    assert "root:everything is not one of the available choices" in shown
    assert ApiClient.objects.get(id=portal.client_id).scopes == ["requests:read", "requests:write"]


def test_narrowing_the_scopes_is_saved(operator: Client, portal: clients.IssuedToken) -> None:
    answer = save(operator, portal, scopes=["requests:read"])

    assert saved(answer)
    assert ApiClient.objects.get(id=portal.client_id).scopes == ["requests:read"]


def test_tokens_show_their_scopes_and_expiry_but_never_their_digest(
    operator: Client, portal: clients.IssuedToken
) -> None:
    token = ApiToken.objects.get(client_id=portal.client_id)

    page = operator.get(page_of(portal)).content.decode()

    assert token.prefix in page
    assert "requests:read" in page
    assert 'class="field-expires_at"' in page
    assert token.digest not in page
    assert portal.token not in page


def test_the_admin_makes_no_clients_and_no_tokens(operator: Client, portal: clients.IssuedToken) -> None:
    answer = save(operator, portal, **{"tokens-TOTAL_FORMS": "2", "tokens-1-prefix": "mine"})

    assert operator.get("/admin/clients/apiclient/add/").status_code == 403
    assert answer.status_code == 302
    assert ApiToken.objects.filter(client_id=portal.client_id).count() == 1


def test_viewers_see_a_client_but_cannot_change_it(portal: clients.IssuedToken) -> None:
    viewer = logged_in(staff_in(VIEWERS))
    form = submitted(viewer.get(page_of(portal)))

    assert viewer.get(page_of(portal)).status_code == 200
    assert viewer.post(page_of(portal), {**form, "scopes": ["operations:admin"]}).status_code == 403
    assert ApiClient.objects.get(id=portal.client_id).scopes == ["requests:read", "requests:write"]


def test_a_grant_of_a_payer_since_deactivated_is_shown_and_kept(operator: Client, portal: clients.IssuedToken) -> None:
    PayerGrant.objects.create(client_id=portal.client_id, payer="other", environments=["dev"])
    Payer.objects.filter(name="other").update(active=False)

    page = operator.get(page_of(portal)).content.decode()
    answer = save(operator, portal, scopes=["requests:read"])

    assert '<option value="other" selected>other (inactive)</option>' in page
    assert saved(answer)
    assert grants(portal) == {"demo": [], "other": ["dev"]}
