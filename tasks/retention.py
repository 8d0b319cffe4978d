"""The retention job: prune every table that grows with use, each by its own setting.

| table | kept | setting |
| --- | --- | --- |
| idempotency keys | 24 hours | ``RETENTION_IDEMPOTENCY_KEYS_HOURS`` |
| outbox (published, or nobody listens) | 15 days | ``RETENTION_OUTBOX_DAYS`` |
| inbox (processed message ids) | 15 days | ``RETENTION_INBOX_DAYS`` |
| webhook deliveries (finished) | 30 days | ``RETENTION_WEBHOOK_DELIVERIES_DAYS`` |
| compliance snapshots (but each latest, every change) | 30 days | ``RETENTION_COMPLIANCE_SNAPSHOTS_DAYS`` |
| quota buckets (unused) | 30 days | ``RETENTION_QUOTA_BUCKETS_DAYS`` |

The inbox window must be longer than any redelivery can take: SQS keeps a message at most
14 days (its queues' and DLQs' retention), a webhook delivery is retried for about three
days, Redis holds an unacknowledged message for an hour. The audit log is never pruned
(on PostgreSQL its trigger refuses deletes); dead letters wait for an operator.
"""

from datetime import timedelta

import structlog
from django.conf import settings

from apps.kernel import clock
from apps.kernel.retention import inbox_prune, outbox_prune

log = structlog.get_logger(__name__)


def prune() -> dict[str, int]:
    """Delete what is past its window; how many rows of each table went."""
    # Imported here: a function that runs one context loads this module but never runs the job.
    from apps.accounts import api as accounts
    from apps.compliance import api as compliance
    from apps.intake import api as intake
    from apps.notifications import api as notifications

    now = clock.now()

    def days(value: float) -> timedelta:
        return timedelta(days=value)

    counts = {
        "idempotency_keys": intake.idempotency_keys_prune(
            older_than=now - timedelta(hours=settings.RETENTION_IDEMPOTENCY_KEYS_HOURS)
        ),
        "outbox": outbox_prune(older_than=now - days(settings.RETENTION_OUTBOX_DAYS)),
        "inbox": inbox_prune(older_than=now - days(settings.RETENTION_INBOX_DAYS)),
        "webhook_deliveries": notifications.deliveries_prune(
            older_than=now - days(settings.RETENTION_WEBHOOK_DELIVERIES_DAYS)
        ),
        "compliance_snapshots": compliance.snapshots_prune(
            older_than=now - days(settings.RETENTION_COMPLIANCE_SNAPSHOTS_DAYS)
        ),
        "quota_buckets": accounts.quota_buckets_prune(older_than=now - days(settings.RETENTION_QUOTA_BUCKETS_DAYS)),
    }
    log.info("retention.pruned", **counts)
    return counts
