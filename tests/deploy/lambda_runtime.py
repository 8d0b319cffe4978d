"""A stand-in for the Lambda runtime: runs a built package's handler in this process.

    python3.12 -I tests/deploy/lambda_runtime.py <unpacked package> <module.handler> <timeout seconds>

Run it with ``-I`` (isolated: no PYTHONPATH, no user site, not even this script's folder
on ``sys.path``) and an environment holding only what Lambda would set: then the package
is all there is, as under /var/task. Only the standard library is used here.

Protocol, one JSON object per line: it writes ``{"ready": true, "init_seconds": …}`` once
the handler module is imported (Lambda's init phase), then reads ``{"event": …}`` or
``{"control": "modules"}`` lines from stdin and answers each with ``{"result": …,
"error": …, "seconds": …}``. Anything the function prints goes to stderr.
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The parts of Lambda's context object handlers use."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def main() -> None:
    root, handler_path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the function's own prints and logs go to stderr
    sys.path.insert(0, root)
    os.chdir(root)
    started = time.perf_counter()
    module, _, name = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    answers.write(json.dumps({"ready": True, "init_seconds": time.perf_counter() - started}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request: dict[str, Any] = json.loads(line)
        began = time.perf_counter()
        result: Any = None
        error = None
        if request.get("control") == "modules":
            result = sorted(sys.modules)
        else:
            try:
                result = handler(request["event"], Context(timeout))
            except Exception:
                error = traceback.format_exc()
        answers.write(
            json.dumps({"result": result, "error": error, "seconds": time.perf_counter() - began}, default=str)
        )
        answers.write("\n")
        answers.flush()


if __name__ == "__main__":
    main()
