"""Lambda SnapStart (python3.12+): what must not survive in a snapshot.

With SnapStart, Lambda runs the init phase once per published version, snapshots the
memory, and starts later execution environments from that snapshot. Everything init
created is shared by every restored copy, so:

- no network connection may be open in the snapshot (the peer forgot it long ago):
  database connections are closed before the snapshot and again after restore, and
  Celery's broker connection and producer pools are dropped — the same reset Celery does
  in a forked child, which is what a restore is;
- the ``random`` module is re-seeded after restore, or every copy would draw the same
  retry jitter (ids come from ``uuid4``/``os.urandom``, which need nothing).

The hooks come from ``snapshot_restore_py``, which the Lambda runtime provides; elsewhere
(tests, the other modes) registering is a no-op.
"""

import random
from typing import Any

import kombu.pools
import structlog
from django.db import connections

log = structlog.get_logger(__name__)


def drop_connections() -> None:
    connections.close_all()
    kombu.pools.reset()
    from project.celery import app

    # What Celery resets in a forked child (Celery._after_fork): the pools are rebuilt on
    # next use, with fresh connections.
    celery_app: Any = app
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def before_snapshot() -> None:
    drop_connections()
    log.info("snapstart.before_snapshot")


def after_restore() -> None:
    drop_connections()
    random.seed()
    log.info("snapstart.after_restore")


def register() -> bool:
    """Register the hooks if this runtime takes snapshots; whether it does."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
