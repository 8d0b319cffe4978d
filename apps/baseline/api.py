"""The baseline context's public surface: the read-back the ``verify`` step uses to check
what the steps built (the steps themselves are declared in ``contracts.STEPS``)."""

from apps.baseline.readback import read_back, trusts_saml

__all__ = ["read_back", "trusts_saml"]
