"""Every step is declared once, by its context, and everything that names a step names a
declared one: the blueprints Bespoke ships, the step runners of the subscription map, the
workflow's catalog."""

import pytest

from apps.kernel import catalog
from apps.kernel.contracts import BLUEPRINT, COMMAND, CREATION, VERIFICATION
from apps.workflow import api as workflow
from tasks import demo
from tasks.subscriptions import STEP_RUNNERS


def test_each_step_is_declared_by_the_context_that_runs_it() -> None:
    contexts = {step.name: step.context for step in catalog.all_steps()}

    assert contexts == {
        "create_account": "accounts",
        "wait_account": "accounts",
        "account_validation": "accounts",
        "adopt_account": "accounts",
        "move_account": "accounts",
        "close_account": "accounts",
        "ou_placement": "accounts",
        "service_control_policies": "accounts",
        "iam": "baseline",
        "cloudtrail": "baseline",
        "config": "baseline",
        "support": "baseline",
        "account_hygiene": "baseline",
        "security_services": "baseline",
        "budget": "baseline",
        "vpc": "network",
        "flow_logs": "network",
        "dns": "network",
        "direct_connect": "network",
        "verify": "compliance",
        "notify": "notifications",
        "ad_distribution_list": "notifications",
        "ad_security_groups": "notifications",
        "cloudability": "notifications",
    }


def test_every_declared_function_resolves() -> None:
    for step in catalog.all_steps():
        assert callable(catalog.runner(step.name)), step.name
        for path in (step.check_params, step.describe, step.read_back):
            if path:
                assert callable(catalog.resolve(path)), (step.name, path)
        if step.default_params:
            assert isinstance(catalog.default_params(step.name), dict), step.name


def test_every_dependency_names_a_declared_step() -> None:
    for step in catalog.all_steps():
        assert all(catalog.known(name) for name in step.depends_on), step.name


def test_each_placement_is_where_plans_expect_it() -> None:
    assert catalog.names(placement=CREATION) == ("create_account", "wait_account")
    assert catalog.names(placement=VERIFICATION) == ("verify",)
    assert set(catalog.names(placement=COMMAND)) == {"adopt_account", "move_account", "close_account"}
    assert workflow.blueprint_steps() == catalog.names(placement=BLUEPRINT)


def test_the_subscription_map_runs_every_context_that_declares_steps_and_no_other() -> None:
    assert set(STEP_RUNNERS) == set(catalog.contexts())


@pytest.mark.parametrize(
    "definition",
    [
        demo.DEMO_BLUEPRINT,
        demo._regulated_blueprint(),
        demo.SANDBOX_BLUEPRINT,
        demo.with_integrations(demo.DEMO_BLUEPRINT),
    ],
    ids=["demo", "regulated", "sandbox", "demo-with-integrations"],
)
def test_the_blueprints_bespoke_ships_name_declared_steps_and_pass_their_checks(definition: dict[str, object]) -> None:
    plan = workflow.plan_from_blueprint(definition["steps"])  # type: ignore[arg-type]

    assert all(catalog.known(spec.name) for spec in plan)


def test_an_undeclared_step_in_a_blueprint_is_refused_when_it_is_saved() -> None:
    with pytest.raises(workflow.InvalidPlan, match="teleport"):
        workflow.plan_from_blueprint([{"name": "teleport"}])


def test_a_typo_in_a_steps_parameters_is_refused_when_the_blueprint_is_saved() -> None:
    with pytest.raises(workflow.InvalidPlan, match="tierz"):
        workflow.plan_from_blueprint([{"name": "vpc", "params": {"tierz": ["private"]}}])
    with pytest.raises(workflow.InvalidPlan, match="rolez"):
        workflow.plan_from_blueprint([{"name": "iam", "params": {"rolez": []}}])
