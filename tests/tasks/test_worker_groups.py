"""WORKER_GROUPS: which worker consumes which queues, with how many processes."""

from typing import Any

import pytest

from tasks.checks import check_worker_groups
from tasks.subscriptions import all_queues
from tasks.workers import (
    WorkerGroup,
    WorkerGroupsError,
    group_of,
    node_name,
    parse_worker_groups,
    unconsumed_queues,
    worker_groups,
)


def test_the_default_groups_consume_every_queue_and_network_on_its_own() -> None:
    groups = {group.name: group for group in worker_groups()}

    assert set(groups) == {"control", "steps", "network"}
    assert groups["network"].queues == ("q.network",)
    assert sorted(q for group in groups.values() for q in group.queues) == sorted(all_queues())
    assert all(group.concurrency == 2 for group in groups.values())
    assert unconsumed_queues(list(groups.values())) == []


def test_a_star_takes_every_queue_no_other_group_names() -> None:
    groups = parse_worker_groups("main=*:4 network=q.network:1")

    assert groups == [
        WorkerGroup(name="main", queues=tuple(q for q in all_queues() if q != "q.network"), concurrency=4),
        WorkerGroup(name="network", queues=("q.network",), concurrency=1),
    ]


def test_one_group_can_consume_everything_and_concurrency_defaults_to_the_cpus(monkeypatch: Any) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 3)

    assert parse_worker_groups("all=*") == [WorkerGroup(name="all", queues=tuple(all_queues()), concurrency=3)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "names no group"),
        ("network", "not name=queue"),
        ("Network=network", "not name=queue"),
        ("a=network b=network:0", "positive integer"),
        ("a=billing", "Unknown queue 'billing'"),
        ("a=network a=accounts", "named twice"),
        ("a= b=network", "consumes no queue"),
        ("a=* b=default,accounts,baseline,compliance,intake,network,notifications,workflow", "leaves no queue"),
    ],
)
def test_a_malformed_spec_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(WorkerGroupsError, match=message):
        parse_worker_groups(spec)


def test_the_system_check_flags_a_queue_nobody_consumes_and_a_bad_spec(settings: Any) -> None:
    settings.WORKER_GROUPS = "control=default,workflow,intake,notifications steps=accounts,baseline,compliance"
    assert [(m.id, m.msg) for m in check_worker_groups()] == [
        ("tasks.W001", "No worker group consumes q.network: its messages would wait for ever.")
    ]

    settings.WORKER_GROUPS = "control=billing"
    assert [m.id for m in check_worker_groups()] == ["tasks.E001"]


def test_node_names_carry_the_group_and_an_instance(monkeypatch: Any) -> None:
    monkeypatch.setenv("HONCHO_PROCESS_NAME", "worker.network.2")
    assert node_name("network").startswith("network.2@")
    monkeypatch.delenv("HONCHO_PROCESS_NAME")
    assert node_name("steps", "a").startswith("steps.a@")
    assert group_of("network.2@host-3") == "network"
