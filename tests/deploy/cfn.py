"""Reading the CloudFormation templates in tests: as short-form values for structural
assertions, and as template JSON for moto's CloudFormation — with what moto cannot create
replaced by stand-ins, named here."""

import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from moto.cloudformation.parsing import get_model_map


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, …) read as ``{"Sub": …}``."""


def _short(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


CfnLoader.add_multi_constructor("!", _short)


class JsonLoader(yaml.SafeLoader):
    """The same YAML as CloudFormation's JSON form (``Fn::Sub``, ``Fn::GetAtt: [A, b]``)."""


def _full(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value = _short(loader, suffix, node)[suffix]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


JsonLoader.add_multi_constructor("!", _full)


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (a safe loader)
    return loaded


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policy = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
    found: list[dict[str, Any]] = []
    for statement in policy["Statement"]:
        if "If" in statement:  # !If [condition, statement, !Ref AWS::NoValue]
            statement = statement["If"][1]
        found.append(statement)
    return found


# What the foundation's resources moto cannot create would be, for the resources and
# outputs that refer to them.
PROXY_ARN = "arn:aws:rds:us-east-1:123456789012:db-proxy:prx-0123456789abcdef0"
FOUNDATION_STAND_INS = {
    "DatabaseCluster": "bespoke-dev-cluster",
    "DatabaseCluster.MasterUserSecret.SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1",
    "DatabaseProxy": "bespoke-dev",
    "DatabaseProxy.Endpoint": "bespoke-dev.proxy-abcdefghijkl.us-east-1.rds.amazonaws.com",
    "DatabaseProxy.DBProxyArn": PROXY_ARN,
    "StageSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bespoke/dev-AbCdEf",
}


# Resource types moto 5.2's CloudFormation cannot create (it skips most silently, and then
# fails on outputs that read their attributes). An Aurora instance is in the list although
# moto has AWS::RDS::DBInstance: it would have to join a cluster moto's CloudFormation cannot make.
MOTO_CANNOT_CREATE = frozenset(
    {
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBProxy",
        "AWS::RDS::DBProxyTargetGroup",
        "AWS::SecretsManager::Secret",
        "AWS::S3::BucketPolicy",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::Subscription",
    }
)


def for_moto(path: Path, *, parameters: Mapping[str, str], stand_ins: Mapping[str, str]) -> tuple[str, list[str]]:
    """The template as JSON moto can apply, and the resources it leaves out.

    Resources of ``MOTO_CANNOT_CREATE`` types are removed; every ``Ref``/``GetAtt`` of one is
    replaced by ``stand_ins["Name"]`` / ``stand_ins["Name.Attribute"]`` (a missing stand-in
    fails the test: a new reference must be looked at). moto has no ``Fn::Cidr`` either: it
    is computed here from ``parameters``, as CloudFormation would.
    """
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=JsonLoader)  # noqa: S506 (a safe loader)
    supported = set(get_model_map())
    removed = sorted(
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] in MOTO_CANNOT_CREATE or resource["Type"] not in supported
    )
    for name in removed:
        del template["Resources"][name]

    def replace(node: Any) -> Any:
        if isinstance(node, list):
            return [replace(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in removed:
            return stand_ins[node["Ref"]]
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in removed:
            return stand_ins[".".join(node["Fn::GetAtt"])]
        if set(node) == {"Fn::Cidr"}:
            block, count, bits = node["Fn::Cidr"]
            network = ipaddress.ip_network(parameters[block["Ref"]] if isinstance(block, dict) else block)
            subnets = network.subnets(new_prefix=network.max_prefixlen - int(bits))
            return [str(next(subnets)) for _ in range(int(count))]
        return {key: replace(value) for key, value in node.items()}

    template = replace(template)
    for resource in template["Resources"].values():
        depends = resource.get("DependsOn")
        if depends is not None:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in removed]
            resource["DependsOn"] = kept
            if not kept:
                del resource["DependsOn"]
    return json.dumps(template), removed
