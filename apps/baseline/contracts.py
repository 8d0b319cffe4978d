"""The baseline context's public shapes: its step names and what its IAM and Config
parameters describe once read from a blueprint. Plain Python, no Django."""

from dataclasses import dataclass, field
from typing import Any

from apps.kernel.contracts import StepDeclaration

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


# --- The steps this context runs (apps/baseline/steps/: a module per step) -------------

_STEPS_PACKAGE = "apps.baseline.steps"
_READ_BACK_MODULE = "apps.baseline.readback"


def _baseline_step(name: str, legacy_name: str, *, checked: bool) -> StepDeclaration:
    return StepDeclaration(
        name=name,
        context="baseline",
        legacy_name=legacy_name,
        run=f"{_STEPS_PACKAGE}.{name}:{name}",
        depends_on=("wait_account",),
        default_params=f"{_STEPS_PACKAGE}.params:{name.upper()}_DEFAULT_PARAMS",
        check_params=f"{_STEPS_PACKAGE}.params:check_params",
        describe=f"{_STEPS_PACKAGE}.describe:describe_{name}",
        # support leaves nothing in the member account to read back
        read_back=f"{_READ_BACK_MODULE}:{name}_problems" if checked else "",
    )


STEPS: tuple[StepDeclaration, ...] = (
    _baseline_step("iam", "IAM", checked=True),
    _baseline_step("cloudtrail", "CLOUDTRAIL", checked=True),
    _baseline_step("config", "CONFIG", checked=True),
    _baseline_step("support", "ENTSUPPORT", checked=False),
    # Account guardrails (docs/guardrails.md).
    *(
        StepDeclaration(
            name=name,
            context="baseline",
            legacy_name=legacy_name,
            run=f"{_STEPS_PACKAGE}.{module}:{name}",
            depends_on=("wait_account",),
            default_params=f"{_STEPS_PACKAGE}.guardrail_params:{name.upper()}_DEFAULT_PARAMS",
            check_params=f"{_STEPS_PACKAGE}.guardrail_params:check_params",
            describe=f"{_STEPS_PACKAGE}.guardrail_params:describe_{name}",
            read_back=f"apps.baseline.guardrail_readback:{name}_problems",
        )
        for name, legacy_name, module in (
            ("account_hygiene", "ACCOUNT_HYGIENE", "hygiene"),
            ("security_services", "SECURITY_SERVICES", "security_services"),
            ("budget", "BUDGET", "budget"),
        )
    ),
)
