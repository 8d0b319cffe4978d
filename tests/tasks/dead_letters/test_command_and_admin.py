"""The dead-letter management command and admin actions."""

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.kernel.models import DeadLetter
from tests.support.deadletters import plain_letter

pytestmark = pytest.mark.django_db


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("dead_letters", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_lists_redrives_and_discards(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    first, second, third = plain_letter(), plain_letter(error_code="Busy"), plain_letter()

    listed, _ = command("list")
    assert all(letter_id in listed for letter_id in (first, second, third))
    assert "3 open dead letter(s)" in listed
    assert "Busy: the handler has a bug" in listed

    redriven, _ = command("redrive", first)
    assert f"{first}: sent to intake.on_run_started again" in redriven

    discarded, _ = command("discard", second, "--reason", "known outage")
    assert f"{second}: discarded" in discarded
    assert DeadLetter.objects.get(id=second).resolution == "known outage"
    assert DeadLetter.objects.get(id=second).resolved_by == "manage.py dead_letters"

    everything, _ = command("redrive", "--all")
    assert f"{third}: sent" in everything
    assert len(sent_tasks) == 2
    assert "0 open dead letter(s)" in command("list")[0]
    assert "1 discarded dead letter(s)" in command("list", "--state", "discarded")[0]


def test_the_command_says_what_it_could_not_do(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    letter_id = plain_letter()

    with pytest.raises(CommandError, match="Name dead letters"):
        command("redrive")
    with pytest.raises(CommandError, match="1 of 2 could not be redriven"):
        command("redrive", letter_id, "no-such-letter")
    with pytest.raises(CommandError):
        command("discard", letter_id)  # no --reason
    with pytest.raises(CommandError, match="already redriven"):
        command("discard", letter_id, "--reason", "x")
    assert DeadLetter.objects.get(id=letter_id).state == "redriven"


def test_the_admin_redrives_and_discards_with_a_reason(
    admin_client: Client, sent_tasks: list[tuple[str, list[Any], str]]
) -> None:
    first, second = plain_letter(), plain_letter()
    url = "/admin/kernel/deadletter/"

    assert admin_client.get(url).status_code == 200
    assert admin_client.get(f"{url}{first}/change/").status_code == 200
    redriven = admin_client.post(url, {"action": "redrive", "_selected_action": [first]}, follow=True)
    assert "sent to intake.on_run_started again" in redriven.content.decode()
    assert DeadLetter.objects.get(id=first).state == "redriven"
    assert DeadLetter.objects.get(id=first).resolved_by == "admin:admin"

    form = admin_client.post(url, {"action": "discard", "_selected_action": [second]})
    assert form.status_code == 200
    assert 'name="reason"' in form.content.decode()
    assert DeadLetter.objects.get(id=second).state == "open"  # nothing until a reason is given
    admin_client.post(url, {"action": "discard", "_selected_action": [second], "confirm": "yes", "reason": " "})
    assert DeadLetter.objects.get(id=second).state == "open"

    admin_client.post(
        url, {"action": "discard", "_selected_action": [second], "confirm": "yes", "reason": "test noise"}
    )

    letter = DeadLetter.objects.get(id=second)
    assert (letter.state, letter.resolution, letter.resolved_by) == ("discarded", "test noise", "admin:admin")
    assert len(sent_tasks) == 1
