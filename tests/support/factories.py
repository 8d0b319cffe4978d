import copy
from typing import Any

from apps.intake.rest.views import EXAMPLE_BODY

# The documented example request (the OpenAPI example and the README use the same body).
VALID_BODY: dict[str, Any] = copy.deepcopy(EXAMPLE_BODY)


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
