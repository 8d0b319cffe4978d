"""The deploying principal's policy (deploy/iam/deployer-policy.json) allows what the
templates create and what ``python -m deploy`` calls, by name, and nothing wholesale."""

import fnmatch
import json
from pathlib import Path

from deploy import apply_queues, foundation
from tests.deploy import cfn

POLICY = json.loads((Path(foundation.ROOT) / "deploy" / "iam" / "deployer-policy.json").read_text())

# What CloudFormation calls, on the deployer's behalf, to create each resource type of the
# templates. A new type in a template fails here until the policy covers it.
CREATES = {
    "AWS::EC2::VPC": ["ec2:CreateVpc", "ec2:ModifyVpcAttribute"],
    "AWS::EC2::Subnet": ["ec2:CreateSubnet"],
    "AWS::EC2::InternetGateway": ["ec2:CreateInternetGateway"],
    "AWS::EC2::VPCGatewayAttachment": ["ec2:AttachInternetGateway"],
    "AWS::EC2::RouteTable": ["ec2:CreateRouteTable"],
    "AWS::EC2::Route": ["ec2:CreateRoute"],
    "AWS::EC2::SubnetRouteTableAssociation": ["ec2:AssociateRouteTable"],
    "AWS::EC2::EIP": ["ec2:AllocateAddress"],
    "AWS::EC2::NatGateway": ["ec2:CreateNatGateway"],
    "AWS::EC2::SecurityGroup": ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupEgress"],
    "AWS::EC2::SecurityGroupIngress": ["ec2:AuthorizeSecurityGroupIngress"],
    "AWS::EC2::SecurityGroupEgress": ["ec2:AuthorizeSecurityGroupEgress"],
    "AWS::EC2::VPCEndpoint": ["ec2:CreateVpcEndpoint"],
    "AWS::RDS::DBSubnetGroup": ["rds:CreateDBSubnetGroup"],
    "AWS::RDS::DBCluster": ["rds:CreateDBCluster", "secretsmanager:CreateSecret", "kms:DescribeKey"],
    "AWS::RDS::DBInstance": ["rds:CreateDBInstance"],
    "AWS::RDS::DBProxy": ["rds:CreateDBProxy", "iam:PassRole"],
    "AWS::RDS::DBProxyTargetGroup": ["rds:RegisterDBProxyTargets", "rds:ModifyDBProxyTargetGroup"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:PutRolePolicy"],
    "AWS::SecretsManager::Secret": ["secretsmanager:CreateSecret", "secretsmanager:GetRandomPassword"],
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration"],
    "AWS::S3::BucketPolicy": ["s3:PutBucketPolicy"],
    "AWS::SQS::Queue": ["sqs:CreateQueue", "sqs:SetQueueAttributes"],
    "AWS::Lambda::EventSourceMapping": ["lambda:CreateEventSourceMapping"],
    "AWS::SNS::Topic": ["sns:CreateTopic"],
    "AWS::SNS::Subscription": ["sns:Subscribe"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard"],
}
# What the deploy tooling itself calls (Zappa's calls are in the statements for functions,
# API, schedules, bucket and logs).
CALLS = [
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "lambda:GetFunction",
    "lambda:GetAlias",
    "lambda:InvokeFunction",
    "apigateway:GET",
    "organizations:DescribeOrganization",
]


def allowed() -> set[str]:
    actions: set[str] = set()
    for statement in POLICY["Statement"]:
        assert statement["Effect"] == "Allow"
        actions |= set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    return actions


def test_every_statement_is_named_and_no_action_is_wholesale() -> None:
    sids = [s["Sid"] for s in POLICY["Statement"]]
    assert len(sids) == len(set(sids))
    assert not [a for a in allowed() if "*" in a]


def test_the_policy_covers_every_resource_of_both_templates() -> None:
    types = {
        r["Type"]
        for path in (foundation.TEMPLATE, apply_queues.TEMPLATE)
        for r in cfn.load(Path(path))["Resources"].values()
    }
    assert types <= set(CREATES), f"not in CREATES: {types - set(CREATES)}"
    needed = {action for t in types for action in CREATES[t]}
    assert needed - allowed() == set()


def test_the_policy_covers_the_deploy_tooling_calls() -> None:
    assert set(CALLS) - allowed() == set()


def test_names_scope_what_names_can_scope() -> None:
    for statement in POLICY["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(
            a.startswith(("iam:", "lambda:Create", "lambda:Update", "lambda:Delete", "sqs:", "cloudformation:Create"))
            for a in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        ):
            assert resources != ["*"] or "Condition" in statement, statement["Sid"]
            assert all(fnmatch.fnmatch(r, "*bespoke*") for r in resources if r != "*"), statement["Sid"]
