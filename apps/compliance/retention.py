"""Pruning compliance snapshots (one per account per poll: 24 a day for every account).

Older than the window, a snapshot is deleted unless it is its account's latest or records
a change (its rules or compliance differ from the account's snapshot before it): the
history of changes is kept for ever, the repeated readings in between are not."""

from datetime import datetime

from apps.compliance.models import ComplianceSnapshot


def snapshots_prune(*, older_than: datetime) -> int:
    deleted = 0
    accounts = ComplianceSnapshot.objects.filter(taken_at__lt=older_than).values_list("aws_account_id", flat=True)
    for account in sorted(set(accounts)):
        readings = ComplianceSnapshot.objects.filter(aws_account_id=account).order_by("taken_at", "id")
        rows = list(readings.values_list("id", "taken_at", "rules", "compliant"))
        previous: tuple[object, bool] | None = None
        doomed = []
        for index, (snapshot_id, taken_at, rules, compliant) in enumerate(rows):
            reading = (rules, compliant)
            latest = index == len(rows) - 1
            if not latest and taken_at < older_than and reading == previous:
                doomed.append(snapshot_id)
            previous = reading
        deleted += ComplianceSnapshot.objects.filter(id__in=doomed).delete()[0]
    return deleted
