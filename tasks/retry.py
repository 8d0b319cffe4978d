import random

from django.conf import settings


def backoff_seconds(attempt: int) -> float:
    """Exponential back-off with jitter before attempt ``attempt + 1``.

    "Equal jitter": half the exponential delay is fixed, half random, so retries of many
    messages that failed together (a throttling burst) spread out instead of colliding.
    """
    # The exponent is bounded so a very late attempt hits the cap instead of overflowing a float.
    exponent = min(attempt - 1, 64)
    ceiling: float = min(settings.TASK_RETRY_MAX_SECONDS, settings.TASK_RETRY_BASE_SECONDS * 2**exponent)
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def scheduled_seconds(schedule: list[float], attempt: int) -> float:
    """The delay before attempt ``attempt + 1`` from a fixed schedule, with up to 10 % of
    jitter (so deliveries that failed together do not come back together)."""
    delay = float(schedule[min(attempt, len(schedule)) - 1])
    return delay + random.uniform(0, delay / 10)
