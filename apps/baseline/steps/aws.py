"""The baseline steps' access to AWS: every boto3 client of this context comes from
``client`` (tests replace it to stub one), plus look-ups, regions and policy documents."""

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steptools import built_regions as built_regions  # the steps' one way to their regions


def client(service: str, *, session: Any, region: str | None = None) -> Any:
    """Every boto3 client of this context."""
    return cloud.client(service, session=session, region=region)


def lookup[T](action: str, call: Callable[[], T], *, missing: str) -> T | None:
    """``call()``, or None when AWS answers with the error code ``missing`` (not found)."""
    try:
        with cloud.aws_errors(action):
            return call()
    except PermanentError as error:
        if error.code == missing:
            return None
        raise


def region_for(params: Mapping[str, Any], inputs: Mapping[str, Any] | None = None) -> str | None:
    """The region a regional step works in: its ``region`` parameter, else the request's."""
    return params.get("region") or (inputs or {}).get("region") or None


def partition_for(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def as_document(value: Any) -> Any:
    """A policy document as a dict, whether AWS's answer was decoded already or not."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def same_document(current: Any, wanted: Mapping[str, Any]) -> bool:
    return current is not None and json.dumps(as_document(current), sort_keys=True) == json.dumps(
        wanted, sort_keys=True
    )


def log_archive_bucket(payer_settings: Mapping[str, Any]) -> str:
    bucket = payer_settings.get("log_archive_bucket") or ""
    if not bucket:
        raise PermanentError(
            "The payer has no log-archive bucket: set it before baselining accounts.",
            code="missing_log_archive_bucket",
        )
    return str(bucket)
