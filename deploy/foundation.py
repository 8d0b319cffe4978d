"""A stage's foundation (``deploy/cloudformation/foundation.yaml``): its stack parameters,
and what its outputs become in the stage's Zappa settings.

Parameters come from ``zappa_settings.json`` (the function name, the secret's name) and
``deploy/stages.json`` (per stage: network, database size, deletion protection). A peeled
stage (``production-network``) runs on its monolith's foundation: same VPC, subnets,
security group, secret and bucket.
"""

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy import apply_queues

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "cloudformation" / "foundation.yaml"
STAGES = ROOT / "deploy" / "stages.json"


def monolith_stage(stage: str, settings: dict[str, Any]) -> str:
    """The monolith stage whose foundation and queues ``stage`` uses: itself, or for a
    peeled stage ``<monolith>-<context>``, that monolith."""
    for context in apply_queues.PEELED:
        monolith = stage.removesuffix(f"-{context}")
        if monolith != stage and monolith in settings:
            return monolith
    return stage


def peeled_stages(monolith: str, settings: dict[str, Any]) -> list[str]:
    return [f"{monolith}-{c}" for c in apply_queues.PEELED if f"{monolith}-{c}" in settings]


def stage_options(stage: str, *, path: Path = STAGES) -> dict[str, dict[str, str]]:
    """``deploy/stages.json``'s entry for a monolith stage: parameters per stack."""
    options: dict[str, dict[str, dict[str, str]]] = json.loads(path.read_text())
    return options.get(stage, {})


def stack_name(stage: str, settings: dict[str, Any]) -> str:
    return f"{apply_queues.function_name(stage, settings)}-foundation"


@dataclass(frozen=True)
class Plan:
    stack_name: str
    parameters: dict[str, str | None]


def plan(stage: str, *, settings: dict[str, Any], options: dict[str, str] | None = None) -> Plan:
    """The foundation stack of monolith stage ``stage``."""
    parameters: dict[str, str | None] = {
        "StageName": apply_queues.function_name(stage, settings),
        "SecretName": apply_queues.secret_name(stage, settings),
    }
    parameters.update(options or {})
    return Plan(stack_name=stack_name(stage, settings), parameters=parameters)


def vpc_config(outputs: dict[str, str]) -> dict[str, list[str]]:
    return {
        "SubnetIds": outputs["SubnetIds"].split(","),
        "SecurityGroupIds": outputs["SecurityGroupIds"].split(","),
    }


def settings_with_foundation(monolith: str, settings: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """``zappa_settings.json`` with the foundation's outputs on the monolith stage and its
    peeled stages: ``vpc_config`` and ``s3_bucket``. The secret keeps its name (the
    stack's secret is created under it). Every ``zappa`` command for these stages takes
    this file (``-s``): a ``zappa update`` without ``vpc_config`` would take the function
    out of the VPC."""
    rendered = copy.deepcopy(settings)
    for stage in [monolith, *peeled_stages(monolith, settings)]:
        rendered[stage]["vpc_config"] = vpc_config(outputs)
        rendered[stage]["s3_bucket"] = outputs["DeploymentBucket"]
    return rendered
