"""Turning fault injection for the emulated AWS on and off in a test.

``inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=2")`` with
pytest-django's ``settings`` fixture: every AWS client made from then on (by
``apps.cloud.api.client``) carries the rules; the ``settings`` fixture restores
``AWS_FAULTS`` when the test ends. The rules are described in apps/cloud/faults.py.
"""

from typing import Any

from apps.cloud import api as cloud
from apps.cloud import faults


def inject(settings: Any, spec: str) -> tuple[faults.FaultRule, ...]:
    """Set ``AWS_FAULTS`` to ``spec`` (``""`` turns faults off) and start from a clean
    slate: no polls counted, no creation remembered as failed. Returns the parsed rules
    (a bad spec raises ``InvalidFaultRule`` here, not in the code under test)."""
    rules = faults.parse_rules(spec)
    cloud._fault_rules.cache_clear()
    faults.reset()
    settings.AWS_FAULTS = spec
    return rules
