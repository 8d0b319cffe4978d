"""The console's own pages, behind the admin's staff login (``ConsoleAdminSite.get_urls``):
the dashboard, the pages of a run, a request, a command and an account, the actions
their buttons post, and the search."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts import api as accounts
from apps.compliance import api as compliance
from apps.console import actions, charts, screens
from apps.console.search import search
from apps.console.sites import may_view_dashboard
from apps.intake import api as intake
from apps.kernel import clock
from apps.kernel.errors import ApplicationError
from apps.network import api as network
from apps.workflow import api as workflow

WINDOW_DAYS = 30


def build_charts(*, days: int = WINDOW_DAYS) -> list[charts.Chart]:
    """Every chart on the dashboard, from the contexts' public read models. Request and
    run charts cover the last ``days`` days; accounts and pools are as they stand now."""
    since, window = charts.window(now=clock.now(), days=days)
    activity = intake.request_activity(since=since)
    finishes = [f for f in workflow.run_finishes(since=since) if f.status == charts.SUCCEEDED]
    created = intake.request_created_times(request_ids=[f.request_id for f in finishes])
    steps = workflow.step_outcomes(since=since)
    return [
        charts.requests_per_day(activity=[(a.created_at, a.status) for a in activity], days=window),
        charts.time_to_ready(
            durations=[
                (f.finished_at, (f.finished_at - created[f.request_id]).total_seconds() / 60)
                for f in finishes
                if f.request_id in created
            ],
            days=window,
        ),
        charts.step_failure_rates(outcomes=[(s.name, s.state) for s in steps]),
        charts.step_durations(
            durations=[
                (s.name, (s.finished_at - s.started_at).total_seconds()) for s in steps if s.started_at is not None
            ]
        ),
        charts.accounts_per_payer(
            counts=[(c.payer, c.environment, c.count) for c in accounts.account_counts_by_payer_environment()]
        ),
        charts.pool_utilisation(
            pools=[
                (f"{p.payer} {p.region} {p.name or p.cidr}", p.allocated_addresses, p.total_addresses)
                for p in network.pool_utilisation()
            ]
        ),
        charts.guardrails_in_place(
            readings=[
                (str(reading["check"]), bool(reading["ok"]))
                for snapshot in compliance.snapshots_latest(viewer=None)
                for reading in snapshot.guardrails
            ]
        ),
    ]


def dashboard(request: HttpRequest) -> HttpResponse:
    """Staff only: the admin site wraps this view in ``admin_view`` (login redirect
    otherwise); among staff, those who may view what the charts are drawn from."""
    if not may_view_dashboard(request):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "charts": [charts.render(chart) for chart in build_charts()],
        "window_days": WINDOW_DAYS,
    }
    return TemplateResponse(request, "console/dashboard.html", context)


# --- The pages of one thing ----------------------------------------------------------------------


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _page(request: HttpRequest, screen: screens.Screen | None) -> HttpResponse:
    if screen is None:
        raise Http404("Not found.")
    context = {**admin.site.each_context(request), "title": screen.title, "screen": screen}
    return TemplateResponse(request, "console/screen.html", context)


def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    _require(request, screens.VIEW_RUNS)
    return _page(request, screens.run_screen(request.user, run_id))


def request_page(request: HttpRequest, request_id: str) -> HttpResponse:
    """A request with a run is read on its run's page; this page is for one without."""
    _require(request, screens.VIEW_REQUESTS)
    if request.user.has_perm(screens.VIEW_RUNS):
        run = workflow.run_for_request(request_id=request_id)
        if run is not None:
            return redirect("admin:console_run", run_id=run.id)
    return _page(request, screens.request_screen(request.user, request_id))


def command_page(request: HttpRequest, command_id: str) -> HttpResponse:
    """A command with a run is read on its run's page; this page is for one without."""
    _require(request, screens.VIEW_COMMANDS)
    if request.user.has_perm(screens.VIEW_RUNS):
        run = workflow.run_for_request(request_id=command_id)
        if run is not None:
            return redirect("admin:console_run", run_id=run.id)
    return _page(request, screens.command_screen(request.user, command_id))


def account_page(request: HttpRequest, account_id: str) -> HttpResponse:
    _require(request, screens.VIEW_ACCOUNTS)
    return _page(request, screens.account_screen(request.user, account_id))


# --- The buttons -----------------------------------------------------------------------------------

PAGES = {
    actions.REQUEST: "console_request",
    actions.COMMAND: "console_command",
    actions.ACCOUNT: "console_account",
    actions.RUN: "console_run",
}
ID_ARGUMENTS = {
    actions.REQUEST: "request_id",
    actions.COMMAND: "command_id",
    actions.ACCOUNT: "account_id",
    actions.RUN: "run_id",
}


def _subject(subject: str, subject_id: str) -> str | None:
    """What the confirmation page calls the thing acted on (None: there is no such thing)."""
    if subject == actions.REQUEST:
        request = intake.request_get(request_id=subject_id, viewer=None)
        return f"the request for {request.account_email}" if request else None
    if subject == actions.COMMAND:
        command = accounts.command_get_unscoped(command_id=subject_id)
        if command is None:
            return None
        account = accounts.account_get_unscoped(identifier=command.account_id)
        return f"the {command.command} of account {account.aws_account_id if account else command.account_id}"
    if subject == actions.ACCOUNT:
        account = accounts.account_get_unscoped(identifier=subject_id)
        return f"account {account.aws_account_id or account.id}" if account else None
    run = workflow.run_get(run_id=subject_id)
    return f"run {run.id}" if run else None


def _back(request: HttpRequest, subject: str, subject_id: str) -> str:
    """Where the operator came from (a page of this site), else the thing's page."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return reverse(f"admin:{PAGES[subject]}", kwargs={ID_ARGUMENTS[subject]: subject_id})


def act(request: HttpRequest, *, subject: str, action: str, **ids: str) -> HttpResponse:
    """Do ``action`` on the thing, for an operator holding its permission (403 otherwise).
    A destructive action shows its confirmation page first (a GET, or a POST without
    ``confirm=yes``); refusals by the owning context are shown as they are worded."""
    found = actions.action(subject, action)
    if found is None:
        raise Http404(f"No action {action}.")
    if not request.user.has_perm(found.permission):
        raise PermissionDenied
    subject_id = ids[ID_ARGUMENTS[subject]]
    label = _subject(subject, subject_id)
    if label is None:
        raise Http404("Not found.")
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"] if found.destructive else ["POST"])
    if request.method == "GET" and not found.destructive:
        return HttpResponseNotAllowed(["POST"])
    back = _back(request, subject, subject_id)
    reason = request.POST.get("reason", "").strip()
    if found.destructive and request.POST.get("confirm") != "yes":
        return _confirm(request, found, label, back)
    if found.asks_reason and not reason:
        return _confirm(request, found, label, back, problem="Say why: it is kept with what this changes.")
    given = actions.Input(user=request.user, subject_id=subject_id, reason=reason, step=request.POST.get("step", ""))
    try:
        messages.success(request, found.perform(given))
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    return redirect(back)


def _confirm(
    request: HttpRequest, found: actions.Action, label: str, back: str, *, problem: str = ""
) -> TemplateResponse:
    verb = found.label.rstrip("…")
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": f"{verb} {label}?",
        "action": found,
        "verb": verb,
        "back": back,
        "problem": problem,
        "reason": request.POST.get("reason", ""),
    }
    return TemplateResponse(request, "console/confirm.html", context, status=400 if problem else 200)


# --- The search ----------------------------------------------------------------------------------


def search_page(request: HttpRequest) -> HttpResponse:
    term = request.GET.get("q", "")
    results = search(request.user, term)
    context = {**admin.site.each_context(request), "title": "Search", "results": results, "term": results.term}
    return TemplateResponse(request, "console/search.html", context)
