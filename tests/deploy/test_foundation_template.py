"""The foundation template: network, database path, secret and bucket.

moto's CloudFormation creates the network, the security groups, the endpoints, the bucket
and the proxy's role, and these are checked as moto made them. It cannot create an Aurora
cluster or instance, RDS Proxy, a Secrets Manager secret, a bucket policy or an egress rule
(``cfn.MOTO_CANNOT_CREATE``): those are checked by cfn-lint and by the structural
assertions below, and stand-ins take their place where other resources refer to them.
"""

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from deploy import foundation
from tests.conftest import EmulatedAws
from tests.deploy import cfn, harness

TEMPLATE = Path(foundation.TEMPLATE)
STAND_INS = cfn.FOUNDATION_STAND_INS


def template() -> dict[str, Any]:
    return cfn.load(TEMPLATE)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def test_template_passes_cfn_lint() -> None:
    import cfnlint.api

    assert [str(m) for m in cfnlint.api.lint_file(TEMPLATE)] == []  # type: ignore[attr-defined]


def test_the_database_is_reached_only_through_the_proxy_with_iam_tokens() -> None:
    t = template()["Resources"]
    cluster = t["DatabaseCluster"]
    assert cluster["DeletionPolicy"] == cluster["UpdateReplacePolicy"] == "Snapshot"
    assert cluster["Properties"]["Engine"] == "aurora-postgresql"
    assert cluster["Properties"]["StorageEncrypted"] is True
    assert cluster["Properties"]["ManageMasterUserPassword"] is True
    assert set(cluster["Properties"]["ServerlessV2ScalingConfiguration"]) == {"MinCapacity", "MaxCapacity"}
    assert t["DatabaseWriter"]["Properties"]["DBInstanceClass"] == "db.serverless"
    assert t["DatabaseWriter"]["Properties"]["PubliclyAccessible"] is False
    proxy = t["DatabaseProxy"]["Properties"]
    [auth] = proxy["Auth"]
    assert auth["IAMAuth"] == "REQUIRED"
    assert auth["SecretArn"] == {"GetAtt": "DatabaseCluster.MasterUserSecret.SecretArn"}
    assert proxy["RequireTLS"] is True
    # Database <- proxy <- functions, and nothing else.
    ingress = {
        (r["Properties"]["GroupId"]["Ref"], r["Properties"]["SourceSecurityGroupId"]["Ref"])
        for r in resources("AWS::EC2::SecurityGroupIngress").values()
    }
    assert ingress == {("DatabaseSecurityGroup", "ProxySecurityGroup"), ("ProxySecurityGroup", "FunctionSecurityGroup")}
    assert cluster["Properties"]["VpcSecurityGroupIds"] == [{"Ref": "DatabaseSecurityGroup"}]
    assert proxy["VpcSecurityGroupIds"] == [{"Ref": "ProxySecurityGroup"}]
    for group in ("DatabaseSecurityGroup", "ProxySecurityGroup", "FunctionSecurityGroup"):
        assert "SecurityGroupIngress" not in t[group]["Properties"]


def test_functions_leave_by_https_http_and_the_proxy() -> None:
    """Structural: moto's CloudFormation keeps a new group's allow-all egress rule."""
    t = template()["Resources"]
    egress = {
        (r["IpProtocol"], r["FromPort"], r["CidrIp"])
        for r in t["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    }
    assert egress == {("tcp", 443, "0.0.0.0/0"), ("tcp", 80, "0.0.0.0/0")}
    rules = {name: r["Properties"] for name, r in resources("AWS::EC2::SecurityGroupEgress").items()}
    assert {(r["GroupId"]["Ref"], r["DestinationSecurityGroupId"]["Ref"], r["FromPort"]) for r in rules.values()} == {
        ("FunctionSecurityGroup", "ProxySecurityGroup", 5432),
        ("ProxySecurityGroup", "DatabaseSecurityGroup", 5432),
    }


def test_the_secret_is_generated_and_holds_no_password() -> None:
    secret = template()["Resources"]["StageSecret"]["Properties"]
    assert secret["Name"] == {"Ref": "SecretName"}
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "DJANGO_SECRET_KEY"
    assert generated["PasswordLength"] >= 50
    body = generated["SecretStringTemplate"]["Sub"]
    assert (
        '"DATABASE_URL": "postgres://${DatabaseUser}@${DatabaseProxy.Endpoint}:5432/${DatabaseName}?sslmode=require"'
        in body
    )
    assert '"DB_IAM_AUTH": "true"' in body
    assert "DJANGO_SECRET_KEY" not in body


def test_the_deployment_bucket_is_private_encrypted_and_versioned() -> None:
    t = template()["Resources"]
    bucket = t["DeploymentBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    [deny] = t["DeploymentBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_outputs_feed_the_stage_settings_and_the_roles() -> None:
    outputs = template()["Outputs"]
    assert {"SubnetIds", "SecurityGroupIds", "DeploymentBucket", "SecretArn", "DatabaseConnectArn"} <= set(outputs)
    assert outputs["SubnetIds"]["Value"] == {"Join": [",", [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]]}


@pytest.mark.parametrize(("endpoints", "nat_gateways"), [("false", "1"), ("true", "2")])
def test_moto_creates_the_network_and_the_bucket(aws: EmulatedAws, endpoints: str, nat_gateways: str) -> None:
    parameters = {
        "StageName": "bespoke-dev",
        "SecretName": "bespoke/dev",
        "VpcCidr": "10.80.0.0/20",
        "InterfaceEndpoints": endpoints,
        "NatGateways": nat_gateways,
    }
    body, left_out = cfn.for_moto(TEMPLATE, parameters=parameters, stand_ins=STAND_INS)
    assert {template()["Resources"][name]["Type"] for name in left_out} <= cfn.MOTO_CANNOT_CREATE
    from deploy import stacks

    outputs = stacks.apply_stack(
        harness.aws_client("cloudformation", aws.url),
        name="bespoke-dev-foundation",
        template=body,
        parameters=parameters,
        wait={"Delay": 1, "MaxAttempts": 30},
    )
    ec2 = harness.aws_client("ec2", aws.url)
    private = ec2.describe_subnets(SubnetIds=outputs["SubnetIds"].split(","))["Subnets"]
    assert len({s["AvailabilityZone"] for s in private}) == 2
    assert all(ipaddress.ip_network(s["CidrBlock"]).subnet_of(ipaddress.ip_network("10.80.0.0/20")) for s in private)  # type: ignore[arg-type]
    # moto's CloudFormation does not record subnet associations: the private route tables
    # are found through the stack, and their associations checked in the template.
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in harness.aws_client("cloudformation", aws.url).list_stack_resources(StackName="bespoke-dev-foundation")[
            "StackResourceSummaries"
        ]
    }
    tables = ec2.describe_route_tables(RouteTableIds=[physical["PrivateRouteTableA"], physical["PrivateRouteTableB"]])
    for table in tables["RouteTables"]:
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r.get("NatGatewayId", "")[:4] for r in default] == ["nat-"]
    associations = {
        r["Properties"]["SubnetId"]["Ref"]: r["Properties"]["RouteTableId"]["Ref"]
        for r in resources("AWS::EC2::SubnetRouteTableAssociation").values()
    }
    assert associations["PrivateSubnetA"] == "PrivateRouteTableA"
    assert associations["PrivateSubnetB"] == "PrivateRouteTableB"
    vpc = [{"Name": "vpc-id", "Values": [outputs["VpcId"]]}]
    assert len(ec2.describe_nat_gateways(Filters=vpc)["NatGateways"]) == int(nat_gateways)
    services = sorted(e["ServiceName"] for e in ec2.describe_vpc_endpoints(Filters=vpc)["VpcEndpoints"])
    expected = ["sqs", "sts", "secretsmanager"] if endpoints == "true" else []
    assert services == sorted(f"com.amazonaws.us-east-1.{s}" for s in expected)
    [group] = ec2.describe_security_groups(GroupIds=[outputs["SecurityGroupIds"]])["SecurityGroups"]
    assert group["VpcId"] == outputs["VpcId"]  # its egress rules: test_functions_leave_by_https_http_and_the_proxy
    # moto's CloudFormation makes the bucket but ignores its versioning and public access
    # block: test_the_deployment_bucket_is_private_encrypted_and_versioned reads the template.
    harness.aws_client("s3", aws.url).head_bucket(Bucket=outputs["DeploymentBucket"])
    # The output the roles take, computed by moto from the (stand-in) proxy ARN.
    assert outputs["DatabaseConnectArn"] == "arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/bespoke"


def test_stage_settings_take_the_outputs() -> None:
    outputs = {
        "SubnetIds": "subnet-a,subnet-b",
        "SecurityGroupIds": "sg-1",
        "DeploymentBucket": "bespoke-production-foundation-deploymentbucket-1",
        "SecretArn": STAND_INS["StageSecret"],
    }
    rendered = foundation.settings_with_foundation("production", harness.SETTINGS, outputs)
    for stage in ("production", "production-network"):
        assert rendered[stage]["vpc_config"] == {"SubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}
        assert rendered[stage]["s3_bucket"] == outputs["DeploymentBucket"]
    assert "vpc_config" not in rendered["dev"]
    assert "vpc_config" not in harness.SETTINGS["production"]  # a copy
    assert foundation.monolith_stage("production-network", harness.SETTINGS) == "production"
    assert foundation.monolith_stage("dev", harness.SETTINGS) == "dev"
