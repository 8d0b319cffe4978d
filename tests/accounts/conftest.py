"""Fixtures of the accounts context's tests."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from apps.kernel import clock


@dataclass
class FakeClock:
    """The kernel clock, moved by the test (thread-safe: workers in threads share it)."""

    moment: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        with self.lock:
            return self.moment

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.moment += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    clock.set_source(fake.now)
    yield fake
    clock.set_source(None)
