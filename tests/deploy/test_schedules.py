"""The periodic jobs run on Lambda as Zappa events: the monolith stages schedule exactly
the jobs of tasks/periodic.py, and each event calls its job."""

from typing import Any

import pytest

from deploy import schedules
from tests.deploy import harness


@pytest.mark.parametrize("stage", ["dev", "production"])
def test_zappa_events_are_the_periodic_jobs(stage: str) -> None:
    assert harness.stage(stage)["events"] == schedules.zappa_events()


def test_the_peeled_function_runs_no_schedule() -> None:
    assert harness.stage("production-network")["events"] == []


def test_an_event_runs_its_job(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    jobs = schedules.jobs()
    job = jobs["sweep_outbox"]

    def swept() -> int:
        calls.append("swept")
        return 0

    # Jobs are frozen: swap the job for one whose function records the call.
    monkeypatch.setattr(schedules, "jobs", lambda: {**jobs, "sweep_outbox": type(job)(job.name, swept, 30)})
    function: Any = schedules.sweep_outbox
    assert function({"detail-type": "Scheduled Event"}, None) == 0
    assert calls == ["swept"]
    with pytest.raises(AttributeError):
        schedules.__getattr__("no_such_job")
