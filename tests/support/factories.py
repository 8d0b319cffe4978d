import copy
from typing import Any

VALID_BODY: dict[str, Any] = {
    "payer": "demo",
    "regulated": False,
    "environment": "dev",
    "region": "us-east-1",
    "vpc": {"az_count": 2, "prefix_length": 24},
    "tags": {"cost_center": "1000100099", "project_name": "My Super Fancy Project", "project_short_name": "msfp"},
    "user_access_list": ["whitew"],
    "technical_contact": {"full_name": "Walter White", "username": "whitew"},
    "requestor": {
        "full_name": "John Doe",
        "username": "doej",
        "manager": "Fred Flinstone",
        "department": "Internal Affairs",
        "email": "john.doe@example.com",
    },
    "external_transaction_id": "RITM00001",
    "comment": "",
}


def request_body(**overrides: Any) -> dict[str, Any]:
    """A valid request body; ``tags__project_short_name="x"`` style keys reach nested fields."""
    body = copy.deepcopy(VALID_BODY)
    for key, value in overrides.items():
        target = body
        *parents, leaf = key.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body
