"""``make services``'s launcher (deploy/services.py): which processes honcho starts from the
Procfile, and the environment they get."""

from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from deploy.services import PROCFILE, SetupError, environment, processes

GROUPS = ["control", "steps", "network"]


def procfile() -> dict[str, str]:
    return dict(parse_procfile(PROCFILE.read_text()).processes)


def test_the_procfile_documents_each_kind_of_process() -> None:
    assert list(procfile()) == ["release", "web", "worker", "beat", "aws"]


def test_one_worker_per_group_and_more_where_scaled() -> None:
    started = processes(procfile(), groups=GROUPS, scale={"network": 2}, emulated=True)

    assert [name for name, _, _ in started] == [
        "web",
        "worker.control",
        "worker.steps",
        "worker.network.1",
        "worker.network.2",
        "beat",
        "aws",
    ]
    workers = {name: extra for name, command, extra in started if command == procfile()["worker"]}
    assert workers["worker.network.2"] == {"WORKER_GROUP": "network", "HONCHO_PROCESS_NAME": "worker.network.2"}
    assert workers["worker.control"] == {"WORKER_GROUP": "control", "HONCHO_PROCESS_NAME": "worker.control.1"}


def test_no_emulator_when_aws_endpoint_url_names_one(tmp_path: Path) -> None:
    env, emulated = environment(
        port=8123, base={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "BESPOKE_VAR_DIR": str(tmp_path)}
    )

    assert not emulated
    assert "aws" not in [name for name, _, _ in processes(procfile(), groups=GROUPS, scale={}, emulated=emulated)]
    assert "AWS_ACCESS_KEY_ID" not in env


def test_the_defaults_suit_one_machine_and_the_secret_key_is_kept(tmp_path: Path) -> None:
    env, emulated = environment(port=8123, base={"BESPOKE_VAR_DIR": str(tmp_path)})
    again, _ = environment(port=8123, base={"BESPOKE_VAR_DIR": str(tmp_path)})

    assert emulated
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["DJANGO_SETTINGS_MODULE"] == "project.settings.production"
    assert env["DATABASE_URL"] == "postgres://postgres@127.0.0.1:5432/bespoke"
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert env["BESPOKE_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert env["DJANGO_SECRET_KEY"] == again["DJANGO_SECRET_KEY"] == (tmp_path / "secret-key").read_text().strip()
    assert (tmp_path / "secret-key").stat().st_mode & 0o777 == 0o600


def test_scaling_a_group_that_does_not_exist_is_refused() -> None:
    with pytest.raises(SetupError, match="--scale names no worker group: billing"):
        processes(procfile(), groups=GROUPS, scale={"billing": 2}, emulated=True)
