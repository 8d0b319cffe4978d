"""A small per-process cache whose entries live a few seconds.

For what the API reads on every call and rarely changes (a token's principal, a payer):
a change made in this process clears the cache at once (the owning context connects its
models' signals to ``clear``); one made elsewhere — another worker process, or a
``QuerySet.update`` that sends no signal — is seen within the time to live. Expiry is by
the one clock, so tests can move past it; a time to live of 0 turns the cache off.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

from apps.kernel import clock

_caches: "list[TtlCache[Any]]" = []


class TtlCache[V]:
    """``get(key, load)``: the value loaded at most ``ttl()`` seconds ago, else ``load()``'s
    (stored unless it is None: what was not found is asked again). Thread-safe; holds at
    most ``max_entries``, the least recently used dropped first."""

    def __init__(self, *, ttl: Callable[[], float], max_entries: int = 1024) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[datetime, V]] = OrderedDict()
        self._lock = threading.Lock()
        _caches.append(self)

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        ttl = self._ttl()
        if ttl <= 0:
            return load()
        now = clock.now()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] > now:
                self._entries.move_to_end(key)
                return found[1]
        value = load()
        if value is not None:
            with self._lock:
                self._entries[key] = (now + timedelta(seconds=ttl), value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return value

    def clear(self, *_args: object, **_kwargs: object) -> None:
        """Forget everything (its signature lets it be a signal receiver)."""
        with self._lock:
            self._entries.clear()


def clear_all() -> None:
    """Forget every cache's entries (between tests, whose rolled-back rows send no signal)."""
    for cache in _caches:
        cache.clear()
