"""The one id factory. Every id Bespoke makes is a UUID4 string from ``new_id()``."""

import uuid
from collections.abc import Callable


def _random_id() -> str:
    return str(uuid.uuid4())


_source: Callable[[], str] = _random_id


def new_id() -> str:
    return _source()


def set_source(source: Callable[[], str] | None) -> None:
    """Replace the id source (``None`` restores random UUID4s)."""
    global _source
    _source = source or _random_id
