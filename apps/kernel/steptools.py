"""What the workflow steps of every context share: the inputs they cannot run without, the
parameters a blueprint gives them, and the tags on what they create in AWS.

Sessions in member accounts are AWS access and live in ``apps.cloud``
(``member_session_of``). Error codes of our own are ``snake_case``; AWS's keep AWS's
spelling.

No Django imports here.
"""

import copy
import re
from collections.abc import Mapping
from typing import Any

from apps.kernel.errors import InvalidStepParams, StepError

# Every resource a step creates carries the request it was created for; resources a step
# makes several kinds of also say which kind (so a re-run finds each by its tags).
REQUEST_TAG = "bespoke:request-id"
COMPONENT_TAG = "bespoke:component"

# Characters AWS accepts in tag values; anything else (quotes, say) becomes a space.
_TAG_UNSAFE = re.compile(r"[^\w .:/=+\-@]", re.UNICODE)
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256


def required_input(inputs: Mapping[str, Any], name: str, *, step: str = "") -> Any:
    """An input the step cannot run without (a programming error if absent: ``missing_input``)."""
    try:
        return inputs[name]
    except KeyError:
        raise StepError(
            f"{f'Step {step}' if step else 'The step'} needs input {name!r}.", code="missing_input"
        ) from None


def request_regions(inputs: Mapping[str, Any]) -> list[str]:
    """The regions a request builds its regional resources in (its VPCs, AWS Config,
    regional guardrails), the first being its primary region (the ``region`` input): the
    ``regions`` input, or ``[region]`` for a run started before requests could name several."""
    return built_regions(inputs) or [str(required_input(inputs, "region"))]


def built_regions(inputs: Mapping[str, Any]) -> list[str]:
    """The regions a run builds in: its ``regions`` input when it has one, else its
    ``region`` (each once, in order). Regional guardrails are put in each of them."""
    regions = inputs.get("regions") or [inputs.get("region")]
    return list(dict.fromkeys(str(region) for region in regions if region))


def merged_params(step: str, given: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A blueprint's parameters for ``step`` laid over its ``defaults``, key by key (a key
    the blueprint gives replaces the default whole). A key the step does not take is
    refused, so that a typo in a blueprint fails loudly instead of being ignored."""
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise InvalidStepParams(
            f"Step {step} does not take the parameter(s) {', '.join(unknown)}; it takes {', '.join(sorted(defaults))}."
        )
    return {**copy.deepcopy(dict(defaults)), **(given or {})}


def invalid_params(step: str, message: str) -> InvalidStepParams:
    """The error for a parameter value ``step`` cannot use (raise it)."""
    return InvalidStepParams(f"Step {step}: {message}")


def aws_tags(
    inputs: Mapping[str, Any],
    *,
    component: str | None = None,
    name: str | None = None,
    extra: Mapping[str, str] | None = None,
    request_tags: bool = True,
) -> list[dict[str, str]]:
    """The tags of what a step creates, as AWS takes them (``[{"Key", "Value"}]``, by key):
    the request's own tags (its ``tags`` input; left out with ``request_tags=False``), its
    id (``bespoke:request-id``), the ``component`` (``bespoke:component``), the ``name``
    (``Name``, what EC2's console shows) and ``extra``. Keys are cut to 128 characters,
    values to 256, and characters AWS refuses in a value become spaces."""
    tags = {
        **({str(key): str(value) for key, value in (inputs.get("tags") or {}).items()} if request_tags else {}),
        REQUEST_TAG: str(required_input(inputs, "request_id")),
        **({COMPONENT_TAG: component} if component is not None else {}),
        **({"Name": name} if name is not None else {}),
        **(extra or {}),
    }
    return [
        {"Key": key[:_MAX_TAG_KEY], "Value": _TAG_UNSAFE.sub(" ", value)[:_MAX_TAG_VALUE]}
        for key, value in sorted(tags.items())
    ]
