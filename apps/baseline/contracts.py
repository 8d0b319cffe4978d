"""The baseline context's public shapes: its step names and what its IAM and Config
parameters describe once read from a blueprint. Plain Python, no Django."""

from dataclasses import dataclass, field
from typing import Any

STEP_NAMES = ("iam", "cloudtrail", "config", "support")

# Where SAML federation signs users in to the console; the audience every role checks.
SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"


@dataclass(frozen=True)
class ManagedPolicySpec:
    """A customer-managed policy made in the member account from ``document``."""

    name: str
    document: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class RoleSpec:
    """A role federated users assume through the payer's identity provider."""

    name: str
    description: str = ""
    max_session_duration: int = 3600
    inline_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    managed_policies: tuple[ManagedPolicySpec, ...] = ()


@dataclass(frozen=True)
class ConfigRuleSpec:
    """An AWS-managed Config rule, named ``bespoke-<identifier, lower case, dashes>`` by default."""

    identifier: str
    name: str
    input_parameters: dict[str, str] = field(default_factory=dict)
    maximum_execution_frequency: str = ""
