"""The embedded mode's stand-in for the systems outside AWS that integration steps call
(the directory, the cost-management tool): a small HTTP server on loopback that checks
each POST's signature and answers like a real endpoint would — ``/active-directory``
with ``202`` and, a moment later, the ``complete`` callback with the groups it made;
``/cloudability`` with ``200`` at once. It lets every step of the demo blueprint (and so
every task of the original's status document) reach complete on one machine."""

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from apps.notifications import api as notifications

log = structlog.get_logger(__name__)

CALLBACK_DELAY_SECONDS = 0.5


def _call_back(url: str, body: dict[str, Any]) -> None:
    time.sleep(CALLBACK_DELAY_SECONDS)
    request = urllib.request.Request(  # noqa: S310 - Bespoke's own callback URL on loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            log.info("receiver.called_back", url=url.split("/v1/")[0], status=answer.status)
    except OSError as error:
        log.warning("receiver.callback_failed", error=str(error))


def _handler(secret: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not notifications.verify_signature(secret, self.headers.get("Bespoke-Signature", ""), body):
                self._answer(401)
                return
            call = json.loads(body)
            if self.path.rstrip("/") == "/cloudability":
                self._answer(200)
                return
            groups = [f"aws-{call['account']['name']}-{role}" for role in ("admins", "readonly")]
            outputs = {"groups" if call["step"] == "ad_security_groups" else "distribution_list": groups}
            threading.Thread(
                target=_call_back, args=(call["callback"]["complete"], {"outputs": outputs}), daemon=True
            ).start()
            self._answer(202)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the structured log says enough
            pass

    return Handler


@contextmanager
def integrations_receiver(*, secret: str, port: int = 0) -> Iterator[str]:
    """Serve the stand-in endpoints on ``127.0.0.1`` (``port`` 0: a free one); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(secret))
    thread = threading.Thread(target=server.serve_forever, name="integrations-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
