"""The operator dashboard: the state of account vending at a glance, for staff."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.accounts import api as accounts
from apps.console import charts
from apps.console.sites import may_view_dashboard
from apps.intake import api as intake
from apps.kernel import clock
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
