"""What a process keeps between AWS calls, so that a vend pays for its AWS calls and little
else: one botocore data loader (service models parsed once per process, not once per
session), one client per (credentials, service, region, endpoint, configuration), and the
credentials of each assumed role until shortly before they expire.

Thread-safe: clients are made under one lock (boto3 sessions are not thread-safe; the
clients they make are, and are shared across threads). A cached client's credentials are
static (an assumed role's) or refreshable (the process's own), so reusing it never
outlives them: an assumed role's client is keyed by its access key, which changes when
the credentials are renewed.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.loaders
import botocore.session

_LOADER = botocore.loaders.create_loader()
_lock = threading.RLock()
_MAX_CLIENTS = 512

_clients: "OrderedDict[Hashable, Any]" = OrderedDict()
_assumed: dict[Hashable, "Assumed"] = {}
_sessions: dict[str, boto3.Session] = {}

# How many clients this process has made (the benchmarks report it per vend).
constructions = 0


@dataclass(frozen=True)
class Assumed:
    """An assumed role's credentials and when they stop working."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def fresh(self, *, margin: timedelta) -> bool:
        return self.expiration - datetime.now(UTC) > margin


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session that shares the process's data loader."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, **kwargs)


def session_for(assumed: Assumed, *, region: str | None) -> boto3.Session:
    """The one session of an assumed role's credentials (its clients are cached by them)."""
    with _lock:
        session = _sessions.get(assumed.access_key_id)
        if session is None:
            session = new_session(
                aws_access_key_id=assumed.access_key_id,
                aws_secret_access_key=assumed.secret_access_key,
                aws_session_token=assumed.session_token,
                region_name=region,
            )
            session._bespoke_credentials_key = assumed.access_key_id
            _sessions[assumed.access_key_id] = session
        return session


def credentials_key(session: boto3.Session) -> Hashable:
    """What a client made from ``session`` is cached under: its assumed role's access key,
    or the session itself (the process's own credentials, one session per thread)."""
    return getattr(session, "_bespoke_credentials_key", None) or ("session", id(session))


def client(key: Hashable, make: Callable[[], Any], *, enabled: bool = True) -> Any:
    """The client cached under ``key``, made by ``make`` the first time (least recently
    used ones are dropped past ``_MAX_CLIENTS``); ``enabled`` False: a new one each time
    (the benchmarks measure what the cache saves)."""
    global constructions
    if not enabled:
        with _lock:
            constructions += 1
        return make()
    with _lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found
        made = make()
        constructions += 1
        _clients[key] = made
        while len(_clients) > _MAX_CLIENTS:
            _clients.popitem(last=False)
        return made


def assumed(key: Hashable, assume: Callable[[], Assumed], *, margin: timedelta, enabled: bool = True) -> Assumed:
    """The credentials cached under ``key`` while they have more than ``margin`` left;
    assumed again otherwise (and every time when not ``enabled``)."""
    if not enabled:
        return assume()
    with _lock:
        found = _assumed.get(key)
        if found is not None and found.fresh(margin=margin):
            return found
    fresh = assume()  # outside the lock: an AWS call
    with _lock:
        stale = _assumed.get(key)
        if stale is not None and stale.access_key_id != fresh.access_key_id:
            _sessions.pop(stale.access_key_id, None)
        _assumed[key] = fresh
        return fresh


def forget() -> None:
    """Drop every cached client, session and credential (an emulator was reset: its
    credentials and ids mean nothing any more)."""
    with _lock:
        _clients.clear()
        _assumed.clear()
        _sessions.clear()
