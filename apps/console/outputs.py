"""A step's outputs as an operator reads them: labelled fields, not a JSON blob.

Steps return plain JSON (``{"vpc_id": …, "cidr": …, "subnets": [{…}, …]}``). Each key
becomes a label (``vpc_id`` → "VPC id"); a list of strings becomes a list, a list of
objects a small table, an object of strings (role name → ARN) a list of pairs; anything
deeper is shown as indented JSON. The raw JSON stays one click away on the page.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Words written the way AWS and network people write them.
WORDS = {
    "acl": "ACL",
    "arn": "ARN",
    "arns": "ARNs",
    "aws": "AWS",
    "az": "AZ",
    "cidr": "CIDR",
    "dns": "DNS",
    "iam": "IAM",
    "id": "id",
    "ids": "ids",
    "ip": "IP",
    "nat": "NAT",
    "ou": "OU",
    "saml": "SAML",
    "vpc": "VPC",
}


# Keys whose words alone would mislead.
KEYS = {"account_id": "AWS account id"}


def label(key: str) -> str:
    """``nat_gateway_id`` → "NAT gateway id", ``role_arns`` → "Role ARNs"."""
    if key in KEYS:
        return KEYS[key]
    words = [WORDS.get(word.lower(), word.lower()) for word in key.replace("-", "_").split("_") if word]
    if not words:
        return key
    head = words[0]
    words[0] = "ID" if head == "id" else head.capitalize() if head.islower() else head
    return " ".join(words)


def _scalar(value: Any) -> SafeString:
    if value is None or value == "":
        return format_html('<span class="quiet">{}</span>', "none")
    if isinstance(value, bool):
        return format_html("{}", "yes" if value else "no")
    if isinstance(value, int | float):
        return format_html("{}", value)
    return format_html("<code>{}</code>", value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _list(values: Sequence[Any]) -> SafeString:
    if not values:
        return format_html('<span class="quiet">{}</span>', "none")
    return format_html(
        '<ul class="output-list">{}</ul>', format_html_join("", "<li>{}</li>", ((_scalar(v),) for v in values))
    )


def _pairs(mapping: Mapping[str, Any]) -> SafeString:
    return format_html(
        '<ul class="output-list output-pairs">{}</ul>',
        format_html_join(
            "", '<li><span class="output-key">{}</span> {}</li>', ((key, _scalar(v)) for key, v in mapping.items())
        ),
    )


def _table(rows: Sequence[Mapping[str, Any]]) -> SafeString:
    columns = sorted({key for row in rows for key in row}, key=lambda c: (c != "id", c))
    head = format_html_join("", "<th>{}</th>", ((label(c),) for c in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((_value(row.get(c)),) for c in columns)),) for row in rows),
    )
    return format_html('<table class="output-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def _value(value: Any) -> SafeString:
    if _is_scalar(value):
        return _scalar(value)
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        return _list(value)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and all(map(_is_scalar, v.values())) for v in value)
    ):
        return _table(value)
    if isinstance(value, dict) and value and all(_is_scalar(v) for v in value.values()):
        return _pairs(value)
    if isinstance(value, dict) and not value:
        return format_html('<span class="quiet">{}</span>', "none")
    return format_html('<pre class="output-json">{}</pre>', json.dumps(value, indent=2, sort_keys=True, default=str))


def _order(item: tuple[str, Any], step: str) -> tuple[int, str]:
    """The step's own id first (``vpc_id`` of ``vpc``), then values, then lists and tables,
    empty ones last. (The database keeps JSON objects in an order of its own.)"""
    key, value = item
    if value in (None, "", [], {}):
        rank = 3
    elif step and key.startswith(f"{step}_"):
        rank = 0
    else:
        rank = 1 if _is_scalar(value) else 2
    return rank, key


def render(outputs: Mapping[str, Any], *, step: str = "") -> SafeString:
    """``outputs`` of ``step`` as a list of labelled fields (nothing for no outputs)."""
    if not outputs:
        return mark_safe("")
    return format_html(
        '<dl class="outputs">{}</dl>',
        format_html_join(
            "",
            '<div class="output" data-key="{}"><dt>{}</dt><dd>{}</dd></div>',
            (
                (key, label(key), _value(value))
                for key, value in sorted(outputs.items(), key=lambda item: _order(item, step))
            ),
        ),
    )


def raw(outputs: Mapping[str, Any]) -> str:
    """The outputs as stored, indented (for the page's disclosure)."""
    return json.dumps(outputs, indent=2, sort_keys=True, default=str)
