"""What a process keeps between AWS calls, so that a vend pays for its AWS calls and little
else: one botocore data loader (service models parsed once per process, not once per
session) and one set of error classes per service, one client per (credentials, service,
region, endpoint, configuration), and the credentials of each assumed role until shortly
before they expire.

Bounded: a vend uses about a dozen clients of its member account, useless once the vend
is over, and a client holds about half a MiB; the least recently used clients are dropped
past ``AWS_CLIENT_CACHE_SIZE`` (the caller's ``limit``), assumed credentials past a quarter
of it, and the sessions made for them past a sixteenth.

Thread-safe: clients are made under one lock (boto3 sessions are not thread-safe; the
clients they make are, and are shared across threads). A cached client's credentials are
static (an assumed role's) or refreshable (the process's own), so reusing it never
outlives them: an assumed role's client is keyed by its access key, which changes when
the credentials are renewed.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.errorfactory
import botocore.loaders
import botocore.session

_LOADER = botocore.loaders.create_loader()
# The exception classes botocore makes for a service's errors (``client.exceptions.X``),
# made once per process instead of once per session: each assumed role has a session,
# and its own classes for every service were a third of a vend's lasting memory. Shared,
# ``except client.exceptions.X`` catches X from any client of that service. (An internal
# botocore component: tests/cloud/test_client_cache.py checks that it is shared.)
_EXCEPTIONS = botocore.errorfactory.ClientExceptionsFactory()
_lock = threading.RLock()
DEFAULT_LIMIT = 128

_clients: "OrderedDict[Hashable, Any]" = OrderedDict()
_assumed: "OrderedDict[Hashable, Assumed]" = OrderedDict()
_sessions: "OrderedDict[str, boto3.Session]" = OrderedDict()

# How many clients this process has made and the seconds spent making them (the
# benchmarks report both per vend).
constructions = 0
construction_seconds = 0.0


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
    core._register_internal_component("exceptions_factory", _EXCEPTIONS)
    return boto3.Session(botocore_session=core, **kwargs)


def credentials_limit(limit: int) -> int:
    """How many assumed credentials are kept beside ``limit`` clients."""
    return max(1, limit // 4)


def sessions_limit(limit: int) -> int:
    """How many assumed roles' sessions are kept beside ``limit`` clients: a session only
    makes clients, and a vend's dozen clients of its account are soon dropped from the
    cache, so about as many sessions as accounts whose clients the cache can hold (each
    session keeps its own event handlers, about 0.2 MiB)."""
    return max(1, limit // 16)


def session_for(assumed: Assumed, *, region: str | None, limit: int = DEFAULT_LIMIT) -> boto3.Session:
    """The one session of an assumed role's credentials (its clients are cached by them)."""
    with _lock:
        session = _sessions.get(assumed.access_key_id)
        if session is not None:
            _sessions.move_to_end(assumed.access_key_id)
        else:
            session = new_session(
                aws_access_key_id=assumed.access_key_id,
                aws_secret_access_key=assumed.secret_access_key,
                aws_session_token=assumed.session_token,
                region_name=region,
            )
            session._bespoke_credentials_key = assumed.access_key_id
            _sessions[assumed.access_key_id] = session
            while len(_sessions) > sessions_limit(limit):
                _sessions.popitem(last=False)
        return session


def credentials_key(session: boto3.Session) -> Hashable:
    """What a client made from ``session`` is cached under: its assumed role's access key,
    or the session itself (the process's own credentials, one session per thread)."""
    return getattr(session, "_bespoke_credentials_key", None) or ("session", id(session))


def client(key: Hashable, make: Callable[[], Any], *, enabled: bool = True, limit: int = DEFAULT_LIMIT) -> Any:
    """The client cached under ``key``, made by ``make`` the first time (least recently
    used ones are dropped past ``limit``); ``enabled`` False: a new one each time (the
    benchmarks measure what the cache saves)."""
    if not enabled:
        return _timed(make)
    with _lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found
        made = _timed(make)
        _clients[key] = made
        while len(_clients) > limit:
            _clients.popitem(last=False)
        return made


def _timed(make: Callable[[], Any]) -> Any:
    global constructions, construction_seconds
    started = time.perf_counter()
    made = make()
    elapsed = time.perf_counter() - started
    with _lock:
        constructions += 1
        construction_seconds += elapsed
    return made


def assumed(
    key: Hashable, assume: Callable[[], Assumed], *, margin: timedelta, enabled: bool = True, limit: int = DEFAULT_LIMIT
) -> Assumed:
    """The credentials cached under ``key`` while they have more than ``margin`` left;
    assumed again otherwise (and every time when not ``enabled``). The least recently
    used are dropped, with their sessions, past ``credentials_limit(limit)``."""
    if not enabled:
        return assume()
    with _lock:
        found = _assumed.get(key)
        if found is not None and found.fresh(margin=margin):
            _assumed.move_to_end(key)
            return found
    fresh = assume()  # outside the lock: an AWS call
    with _lock:
        stale = _assumed.get(key)
        if stale is not None and stale.access_key_id != fresh.access_key_id:
            _sessions.pop(stale.access_key_id, None)
        _assumed[key] = fresh
        _assumed.move_to_end(key)
        while len(_assumed) > credentials_limit(limit):
            _, dropped = _assumed.popitem(last=False)
            _sessions.pop(dropped.access_key_id, None)
        return fresh


def forget() -> None:
    """Drop every cached client, session and credential (an emulator was reset: its
    credentials and ids mean nothing any more)."""
    with _lock:
        _clients.clear()
        _assumed.clear()
        _sessions.clear()
