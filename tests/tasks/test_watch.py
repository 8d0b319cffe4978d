"""``manage.py watch``: a request followed to its end, a bar per step; the exit status says
how it ended."""

import io
import re
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts import api as accounts
from tests.support.bus import drain
from tests.support.factories import request
from tests.support.faults import inject

pytestmark = pytest.mark.django_db


def watch(request_id: str, *options: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("watch", request_id, "--interval", "0.01", *options, stdout=out, stderr=err)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def iam_only(payer_settings: dict[str, str]) -> None:
    accounts.blueprint_save(payer_name="demo", name="baseline", definition={"steps": [{"name": "iam"}]})


def test_a_request_that_succeeds_shows_every_step_done_and_exits_0(iam_only: None) -> None:
    request_id = request().id
    drain()

    code, out, _ = watch(request_id)

    assert code == 0
    for step in ("create_account", "wait_account", "iam"):
        assert step in out
    assert re.search(r"\b(\d+)/\1 steps", out)  # every step of the run ended
    assert out.rstrip().endswith(f"{request_id}: succeeded")


def test_a_request_that_fails_exits_1_and_says_why(iam_only: None, settings: Any) -> None:
    inject(settings, "iam:CreateRole:AccessDenied")
    request_id = request().id
    drain()

    code, out, err = watch(request_id)

    assert code == 1
    assert f"{request_id}: failed" in out
    assert "AccessDenied" in err


@pytest.mark.django_db(transaction=True)  # the command and the workflow run in threads of their own
def test_it_follows_a_request_while_it_runs(iam_only: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.kernel import outbox

    monkeypatch.setattr(outbox, "_publisher", None)  # ``drain`` delivers, not the relay
    request_id = request().id
    # The workflow moves on while the command watches.
    timer = threading.Timer(0.3, drain)
    results: list[tuple[int, str, str]] = []
    watcher = threading.Thread(target=lambda: results.append(watch(request_id, "--timeout", "60")))
    watcher.start()
    timer.start()
    timer.join()
    watcher.join(timeout=60)

    [(code, out, _)] = results
    assert code == 0
    assert f"{request_id}: succeeded" in out


def test_it_gives_up_after_its_timeout_with_2(payer: accounts.PayerSummary) -> None:
    request_id = request().id  # never delivered: it stays accepted

    code, _, err = watch(request_id, "--timeout", "0.05")

    assert code == 2
    assert "Still accepted" in err


def test_an_unknown_request_is_refused(db: None) -> None:
    with pytest.raises(CommandError, match="No account request"):
        call_command("watch", "nope", stdout=io.StringIO())
