"""Run Zappa's command line against moto's server, tolerating the documented moto gaps.

    python tests/deploy/zappa_on_moto.py deploy dev --zip dist/bespoke-dev.zip

Every gap tolerated is named here, and nothing else is:

- ``ListFunctionUrlConfigs``: moto has no Function URL API (HTTP 404 "not implemented");
  ``zappa update`` lists a function's URLs at the end to reconcile them. The stage uses
  no Function URL, so the answer AWS would give is "none".
"""

import sys
from typing import Any

import botocore.client
import botocore.exceptions

TOLERATED = {"ListFunctionUrlConfigs": {"FunctionUrlConfigs": []}}

_make_api_call = botocore.client.BaseClient._make_api_call


def _tolerant(self: Any, operation_name: str, api_params: Any) -> Any:
    try:
        return _make_api_call(self, operation_name, api_params)
    except botocore.exceptions.ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if operation_name in TOLERATED and status == 404:
            print(f"zappa_on_moto: moto lacks {operation_name}; answering {TOLERATED[operation_name]}", file=sys.stderr)
            return TOLERATED[operation_name]
        raise


botocore.client.BaseClient._make_api_call = _tolerant  # type: ignore[method-assign]

if __name__ == "__main__":
    from zappa.cli import ZappaCLI, handle

    # Zappa asks pypi.org for a newer version before every command: no test reaches a host
    # outside this machine.
    ZappaCLI.check_for_update = lambda self: None

    sys.argv = ["zappa", *sys.argv[1:]]
    sys.exit(handle())
