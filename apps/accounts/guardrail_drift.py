"""The reconciler's look at a payer's service control policies: each SCP Bespoke keeps is
compared with Organizations (present, same document, attached to its OUs); a change found
outside Bespoke is recorded on the SCP and reported once as ``GuardrailDrifted``."""

import structlog
from django.db import transaction

from apps.accounts.contracts import GuardrailDrifted
from apps.accounts.models import Payer, ServiceControlPolicy
from apps.accounts.steps.organization import scp_drift_by_policy
from apps.kernel.outbox import record

log = structlog.get_logger(__name__)


def scps_reconcile(payer: Payer) -> tuple[str, ...]:
    """The names of the payer's SCPs that drifted since the last pass.

    Idempotent: the drift found is stored on the SCP, and an event is recorded only when
    it differs from what the previous pass stored (an SCP put back clears it). AWS is read
    before the transaction opens.
    """
    drift = scp_drift_by_policy(payer)
    newly: list[str] = []
    with transaction.atomic():
        for scp in ServiceControlPolicy.objects.select_for_update().filter(payer=payer, name__in=list(drift)):
            found = "\n".join(drift[scp.name])
            if found == scp.drift:
                continue
            scp.drift = found
            scp.save(update_fields=["drift"])
            if found:
                record(
                    GuardrailDrifted(
                        payer=payer.name,
                        guardrail="service_control_policy",
                        subject=scp.name,
                        problems=list(drift[scp.name]),
                    )
                )
                newly.append(scp.name)
    if newly:
        log.info("accounts.scps_drifted", payer=payer.name, scps=newly)
    return tuple(newly)
