"""Backoff shared by the sinks that talk to a network (webhook, CloudWatch)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, so parallel workers do not retry in lockstep."""

    attempts: int = 4  # total tries, including the first
    base: float = 0.5
    cap: float = 10.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 = first retry)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, retry - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds < 0:
        return None
    return min(seconds, cap)
