"""IAM policy documents of the default blueprint's roles.

Customer-managed documents rather than AWS-managed policy ARNs (``ReadOnlyAccess``,
``SecurityAudit``, …): they are versioned with Bespoke, reviewable here, identical in every
account, and the emulator can attach them without loading AWS's managed-policy catalogue.
A blueprint may replace any of them with its own documents.
"""

from typing import Any

PolicyDocument = dict[str, Any]


def document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ADMINISTRATOR = document({"Sid": "Administer", "Effect": "Allow", "Action": "*", "Resource": "*"})

READ_ONLY = document(
    {
        "Sid": "ReadConfigurationAndMetadata",
        "Effect": "Allow",
        "Action": [
            "autoscaling:Describe*",
            "cloudformation:Describe*",
            "cloudformation:Get*",
            "cloudformation:List*",
            "cloudtrail:Describe*",
            "cloudtrail:Get*",
            "cloudtrail:List*",
            "cloudtrail:LookupEvents",
            "cloudwatch:Describe*",
            "cloudwatch:Get*",
            "cloudwatch:List*",
            "config:Describe*",
            "config:Get*",
            "config:List*",
            "directconnect:Describe*",
            "dynamodb:Describe*",
            "dynamodb:List*",
            "ec2:Describe*",
            "ec2:Get*",
            "elasticloadbalancing:Describe*",
            "iam:Get*",
            "iam:List*",
            "lambda:Get*",
            "lambda:List*",
            "logs:Describe*",
            "logs:FilterLogEvents",
            "logs:Get*",
            "rds:Describe*",
            "route53:Get*",
            "route53:List*",
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:List*",
            "sns:Get*",
            "sns:List*",
            "sqs:Get*",
            "sqs:List*",
            "tag:Get*",
        ],
        "Resource": "*",
    }
)

NETWORK = document(
    {
        "Sid": "ManageNetworking",
        "Effect": "Allow",
        "Action": [
            "directconnect:*",
            "ec2:*Address*",
            "ec2:*Dhcp*",
            "ec2:*FlowLogs*",
            "ec2:*Gateway*",
            "ec2:*NetworkAcl*",
            "ec2:*Route*",
            "ec2:*SecurityGroup*",
            "ec2:*Subnet*",
            "ec2:*TransitGateway*",
            "ec2:*Vpc*",
            "ec2:*VpnConnection*",
            "ec2:CreateTags",
            "ec2:DeleteTags",
            "ec2:Describe*",
            "elasticloadbalancing:*",
            "logs:CreateLogGroup",
            "logs:Describe*",
            "route53:*",
            "route53resolver:*",
        ],
        "Resource": "*",
    }
)

SECURITY_AUDIT = document(
    {
        "Sid": "AuditSecurityConfiguration",
        "Effect": "Allow",
        "Action": [
            "access-analyzer:Get*",
            "access-analyzer:List*",
            "cloudtrail:Describe*",
            "cloudtrail:Get*",
            "cloudtrail:List*",
            "cloudtrail:LookupEvents",
            "config:BatchGet*",
            "config:Describe*",
            "config:Get*",
            "config:List*",
            "config:SelectResourceConfig",
            "ec2:Describe*",
            "guardduty:Get*",
            "guardduty:List*",
            "iam:GenerateCredentialReport",
            "iam:GenerateServiceLastAccessedDetails",
            "iam:Get*",
            "iam:List*",
            "iam:SimulatePrincipalPolicy",
            "kms:Describe*",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:List*",
            "logs:Describe*",
            "s3:GetAccountPublicAccessBlock",
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:ListAllMyBuckets",
            "securityhub:Describe*",
            "securityhub:Get*",
            "securityhub:List*",
            "support:Describe*",
            "trustedadvisor:Describe*",
        ],
        "Resource": "*",
    }
)

# Attached to every role that can write: nobody signing in through the identity provider
# may switch off or rewrite what the baseline built (Bespoke itself works through the
# member role Organizations created, which this policy does not touch).
BASELINE_PROTECTION = document(
    {
        "Sid": "KeepTheTrail",
        "Effect": "Deny",
        "Action": [
            "cloudtrail:DeleteTrail",
            "cloudtrail:PutEventSelectors",
            "cloudtrail:StopLogging",
            "cloudtrail:UpdateTrail",
        ],
        "Resource": "arn:aws:cloudtrail:*:*:trail/bespoke-*",
    },
    {
        "Sid": "KeepConfigRecording",
        "Effect": "Deny",
        "Action": [
            "config:DeleteConfigurationRecorder",
            "config:DeleteDeliveryChannel",
            "config:PutConfigurationRecorder",
            "config:PutDeliveryChannel",
            "config:StopConfigurationRecorder",
        ],
        "Resource": "*",
    },
    {
        "Sid": "KeepTheBaselineRoles",
        "Effect": "Deny",
        "Action": [
            "iam:AttachRolePolicy",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
        ],
        "Resource": "arn:aws:iam::*:role/bespoke-*",
    },
    {
        "Sid": "KeepTheBaselinePolicies",
        "Effect": "Deny",
        "Action": [
            "iam:CreatePolicyVersion",
            "iam:DeletePolicy",
            "iam:DeletePolicyVersion",
            "iam:SetDefaultPolicyVersion",
        ],
        "Resource": "arn:aws:iam::*:policy/bespoke-*",
    },
    {
        "Sid": "KeepTheIdentityProvider",
        "Effect": "Deny",
        "Action": ["iam:DeleteSAMLProvider", "iam:UpdateSAMLProvider"],
        "Resource": "arn:aws:iam::*:saml-provider/*",
    },
    {
        "Sid": "KeepAccountSettings",
        "Effect": "Deny",
        "Action": [
            "iam:CreateAccountAlias",
            "iam:DeleteAccountAlias",
            "iam:DeleteAccountPasswordPolicy",
            "iam:UpdateAccountPasswordPolicy",
        ],
        "Resource": "*",
    },
)

# The account stays in the payer's organization (and its consolidated bill), whoever signs in.
DENY_LEAVING_THE_ORGANIZATION = document(
    {"Sid": "StayInTheOrganization", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
)
