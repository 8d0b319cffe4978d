from apps.workflow.plans import execution_order, plan_from_blueprint

FULL = [
    {"name": "iam", "params": {"roles": [{"name": "admin"}]}},
    {"name": "cloudtrail"},
    {"name": "config", "max_attempts": 3},
    {"name": "support", "required": False},
    {"name": "vpc", "params": {"nat": "none"}},
    {"name": "flow_logs"},
    {"name": "dns"},
]


def test_every_plan_creates_the_account_first_and_verifies_last() -> None:
    plan = plan_from_blueprint(FULL)
    names = [spec.name for spec in plan]

    assert names[:2] == ["create_account", "wait_account"]
    assert names[-1] == "verify"
    verify = plan[-1]
    assert set(verify.depends_on) == {"wait_account", *(s["name"] for s in FULL)}
    assert verify.params["expectations"]["iam"] == {"roles": [{"name": "admin"}]}
    assert verify.params["expectations"]["vpc"] == {"nat": "none"}


def test_steps_run_in_parallel_wherever_the_dag_allows() -> None:
    waves = execution_order(plan_from_blueprint(FULL))

    assert waves == [
        ["create_account"],
        ["wait_account"],
        ["cloudtrail", "config", "iam", "support", "vpc"],
        ["dns", "flow_logs"],
        ["verify"],
    ]


def test_blueprint_settings_reach_the_step_specs() -> None:
    specs = {spec.name: spec for spec in plan_from_blueprint(FULL)}

    assert specs["config"].max_attempts == 3
    assert specs["support"].required is False
    assert (specs["vpc"].context, specs["vpc"].legacy_name) == ("network", "VPC")
    assert (specs["iam"].context, specs["iam"].legacy_name) == ("baseline", "IAM")
    assert (specs["verify"].context, specs["verify"].legacy_name) == ("compliance", "CONFIGURATION_CHECK")


def test_a_blueprint_may_change_the_dependencies() -> None:
    plan = plan_from_blueprint([{"name": "iam"}, {"name": "config", "depends_on": ["iam"]}])

    assert execution_order(plan)[2:] == [["iam"], ["config"], ["verify"]]


def test_an_empty_blueprint_creates_and_verifies_the_account() -> None:
    assert [spec.name for spec in plan_from_blueprint([])] == ["create_account", "wait_account", "verify"]
