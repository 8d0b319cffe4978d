"""The compliance context's public surface."""

STEP_NAMES = ("verify",)

__all__ = ["STEP_NAMES"]
