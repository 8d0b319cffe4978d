"""The outbox's after-commit relay: CPU per committed transaction that records messages,
with no relay (the baseline: the transaction alone), with the fast path (the relay sends
the rows the transaction stored) and with the rows read back first (what the sweeper does,
and what the fast path did before), in one run.

    .venv/bin/python bench/outbox_relay.py [--transactions 1500] [--messages 1] [--rounds 3]

Embedded settings (SQLite, the in-process broker, DEBUG off), one thread.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
os.environ.setdefault("BESPOKE_VAR_DIR", tempfile.mkdtemp(prefix="bespoke-bench-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DJANGO_DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from apps.kernel import outbox  # noqa: E402
from apps.kernel.models import OutboxMessage  # noqa: E402
from apps.workflow.contracts import RunStarted  # noqa: E402
from tasks import relay  # noqa: E402


def read_back_first(messages: list[OutboxMessage]) -> object:
    return relay.publish([message.message_id for message in messages])


def cpu_per_transaction(publisher: Callable[[list[OutboxMessage]], object] | None, *, count: int, per: int) -> float:
    outbox.set_publisher(publisher)
    started = time.process_time()
    for index in range(count):
        with transaction.atomic():
            for each in range(per):
                outbox.record(RunStarted(run_id=f"run-{index}-{each}", request_id=f"request-{index}"))
    return (time.process_time() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1500)
    parser.add_argument("--messages", type=int, default=1, help="messages each transaction records")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    paths = {"no relay": None, "fast path": relay.publish_stored, "read back first": read_back_first}
    cpu_per_transaction(relay.publish_stored, count=200, per=args.messages)  # warm up
    results: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds):  # interleaved, so a slower moment of the machine hits all three
        for name, publisher in paths.items():
            results[name].append(cpu_per_transaction(publisher, count=args.transactions, per=args.messages))
    base = statistics.median(results["no relay"])
    print(f"{args.transactions} transactions x {args.rounds} rounds, {args.messages} message(s) each (medians)")
    for name in paths:
        value = statistics.median(results[name])
        relaying = value - base
        print(f"  {name:<16} {value:6.3f} ms CPU a transaction   relay {relaying:6.3f} ms")
    fast = statistics.median(results["fast path"]) - base
    slow = statistics.median(results["read back first"]) - base
    print(f"  the fast path's relay costs {fast / slow:.2f}x the relay that reads the rows back")


if __name__ == "__main__":
    main()
