"""The ``budget`` step: an AWS Budget on the account's monthly cost, alerting the requestor
and the technical contact at the blueprint's thresholds (80 % and 100 % by default)."""

from collections.abc import Mapping
from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.guardrail_params import BUDGET_DEFAULT_PARAMS, monthly_limit
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext

# Budgets has one endpoint, in us-east-1.
BUDGETS_REGION = "us-east-1"
# What Budgets answers for a budget or an alert that exists already.
DUPLICATE = "DuplicateRecordException"


def alert_addresses(inputs: Mapping[str, Any]) -> list[str]:
    """Who hears when the account's cost crosses a threshold: the requestor and the
    technical contact (``<username>@<payer's email domain>``)."""
    domain = (inputs.get("payer_settings") or {}).get("email_domain", "")
    requestor = (inputs.get("requestor") or {}).get("email")
    technical = (inputs.get("technical_contact") or {}).get("username")
    addresses = [str(requestor)] if requestor else []
    if technical and domain:
        addresses.append(f"{technical}@{domain}")
    return list(dict.fromkeys(address.lower() for address in addresses))


def notification(threshold: float) -> dict[str, Any]:
    return {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": float(threshold),
        "ThresholdType": "PERCENTAGE",
    }


def budget_spec(name: str, limit: int) -> dict[str, Any]:
    return {
        "BudgetName": name,
        "BudgetLimit": {"Amount": str(limit), "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }


def described_budget(client: Any, *, account_id: str, name: str) -> dict[str, Any] | None:
    return aws.lookup(
        "DescribeBudget",
        lambda: dict(client.describe_budget(AccountId=account_id, BudgetName=name)["Budget"]),
        missing="NotFoundException",
    )


def budget(context: StepContext) -> dict[str, Any]:
    """A monthly cost budget in the account: the request's own limit (within the payer's
    maximum, checked by intake) or its environment's from the blueprint, with an alert
    per threshold to the requestor and the technical contact.

    Idempotent and converging: the budget is looked up by name; created when missing, its
    limit updated when it differs, and only missing alerts are added. A budget or alert
    made since the look-up (AWS answers DuplicateRecordException) is taken as it is.
    """
    params = context.params(BUDGET_DEFAULT_PARAMS)
    inputs = context.inputs
    account_id = str(context.require("account_id"))
    name = str(params["name"])
    limit = monthly_limit(
        params, environment=str(inputs.get("environment", "")), requested=inputs.get("monthly_budget_usd")
    )
    subscribers = [{"SubscriptionType": "EMAIL", "Address": address} for address in alert_addresses(inputs)]
    thresholds = [float(value) for value in params["alert_thresholds_percent"]]
    client = aws.client("budgets", session=cloud.member_session_of(inputs), region=BUDGETS_REGION)
    existing = described_budget(client, account_id=account_id, name=name)
    if existing is None:
        try:
            with cloud.aws_errors("CreateBudget"):
                client.create_budget(
                    AccountId=account_id,
                    Budget=budget_spec(name, limit),
                    NotificationsWithSubscribers=[
                        {"Notification": notification(threshold), "Subscribers": subscribers}
                        for threshold in thresholds
                    ],
                )
        except PermanentError as error:
            # Made since the look-up (an earlier delivery of the step): converge it instead.
            existing = described_budget(client, account_id=account_id, name=name)
            if error.code != DUPLICATE or existing is None:
                raise
    if existing is not None:
        if float(existing["BudgetLimit"]["Amount"]) != limit:
            with cloud.aws_errors("UpdateBudget"):
                client.update_budget(AccountId=account_id, NewBudget=budget_spec(name, limit))
        with cloud.aws_errors("DescribeNotificationsForBudget"):
            present = {
                float(item["Threshold"])
                for item in client.describe_notifications_for_budget(AccountId=account_id, BudgetName=name)[
                    "Notifications"
                ]
            }
        for threshold in thresholds:
            if threshold not in present:
                try:
                    with cloud.aws_errors("CreateNotification"):
                        client.create_notification(
                            AccountId=account_id,
                            BudgetName=name,
                            Notification=notification(threshold),
                            Subscribers=subscribers,
                        )
                except PermanentError as error:
                    if error.code != DUPLICATE:  # an alert added since they were listed is as good
                        raise
    return {"budget_name": name, "monthly_limit_usd": limit, "alerts_to": [s["Address"] for s in subscribers]}
