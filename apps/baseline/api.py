"""The baseline context's public surface: the read-back the ``verify`` step uses to check
what the steps built (the steps themselves are declared in ``contracts.STEPS``)."""

from apps.baseline.guardrail_readback import POLLED_CHECKS, guardrail_readings
from apps.baseline.readback import read_back, trusts_saml

__all__ = ["POLLED_CHECKS", "guardrail_readings", "read_back", "trusts_saml"]
