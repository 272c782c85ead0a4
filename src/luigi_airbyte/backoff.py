"""How long to wait before trying again: the one place backoff is computed.

Every retry in the package waits through this module: the Airbyte client's
``RetryPolicy``, the sync runner's reconcile and read loops, the job waiter, and the
sinks that talk to a network (webhook, CloudWatch). It offers:

* :class:`Backoff`: exponential growth (``base * factor ** (retry - 1)``) under a
  ``cap``, with a jitter strategy: ``"full"`` waits uniformly in ``[0, ceiling]`` (spreads
  a herd of clients), ``"equal"`` in ``[ceiling / 2, ceiling]`` (never retries at once),
  ``"none"`` waits the ceiling (deterministic polling schedules). The random source is
  injectable for deterministic tests;
* :func:`parse_retry_after`: a ``Retry-After`` header as delta-seconds or an HTTP date,
  optionally capped; absent, negative, non-finite or unreadable values are ignored;
* :func:`retry_until`: call a read until it works or a deadline passes.

Who waits through it, and what each retries (the decision stays with the caller):

* ``airbyte.RetryPolicy``: HTTP 429, 500, 502, 503 and 504, timeouts and dropped
  connections, for idempotent requests only (never ``POST /jobs``); connect errors always.
  Full jitter, ``Retry-After`` honoured up to ``max_delay``; a 429 without one backs off
  on a slower schedule with equal jitter;
* ``sync.SyncRunner`` and its ``Waiter``: once the client has given up, a read failing
  with a transport error, a 429 or any status from 500 up (``sync.api.TRANSIENT_ERRORS``)
  is tried again until a deadline; polls grow without jitter;
* the webhook sink: timeouts, network errors, HTTP 408, 425, 429, 500, 502, 503 and 504,
  equal jitter, ``Retry-After`` up to its cap;
* the CloudWatch sink: the AWS error codes in its ``RETRYABLE_CODES`` and botocore's
  connection errors, equal jitter;
* ``checks.warehouse.DuckDBWarehouse``: a DuckDB file another process holds, until its
  ``lock_wait``, equal jitter.

This module sits beside ``errors`` and ``masking`` at the bottom of the layers and
imports nothing of the package.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

__all__ = ["Backoff", "Jitter", "jittered", "parse_retry_after", "retry_until"]

T = TypeVar("T")

Jitter = Literal["full", "equal", "none"]
JITTERS: tuple[Jitter, ...] = ("full", "equal", "none")

_MAX_EXPONENT = 62  # beyond this every sane cap has long been reached
_RNG = random.Random()


def jittered(ceiling: float, jitter: Jitter, rng: random.Random | None = None) -> float:
    """A wait drawn from ``ceiling`` by the ``jitter`` strategy; never above ``ceiling``."""
    ceiling = max(0.0, ceiling)
    source = rng if rng is not None else _RNG
    if jitter == "full":
        return min(ceiling, max(0.0, source.uniform(0.0, ceiling)))
    if jitter == "equal":
        return min(ceiling, ceiling / 2 + source.uniform(0.0, ceiling / 2))
    return ceiling


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff under a cap, with jitter.

    Args:
        attempts: total tries including the first (used by callers that count tries).
        base: the ceiling before the first retry, in seconds.
        cap: no wait is longer.
        factor: the ceiling grows by this much per retry.
        jitter: ``"full"``, ``"equal"`` or ``"none"`` (see the module docstring).
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 10.0
    factor: float = 2.0
    jitter: Jitter = "equal"

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("backoff delays must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if self.jitter not in JITTERS:
            raise ValueError(f"jitter must be one of {', '.join(JITTERS)}")

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry number ``retry`` (1 = the first retry)."""
        exponent = min(max(retry - 1, 0), _MAX_EXPONENT)
        try:
            grown = self.base * self.factor**exponent
        except OverflowError:
            grown = math.inf
        return min(self.cap, grown)

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry)."""
        return jittered(self.ceiling(retry), self.jitter, rng)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits before retry 1, 2, 3, ... without end (for polling loops)."""
        retry = 0
        while True:
            retry += 1
            yield self.delay(retry, rng)


def parse_retry_after(
    value: str | None, *, now: float | None = None, cap: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent, negative, not finite or unreadable, so the
    caller falls back to its own backoff. A date in the past gives 0. ``now`` is the
    wall-clock time to count a date from (default: now); ``cap`` bounds the answer.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # "-0000": HTTP dates are always GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds if cap is None else min(seconds, max(0.0, cap))


def retry_until(
    read: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...],
    deadline: float,
    backoff: Backoff,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
    on_retry: Callable[[int, BaseException], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    """Call ``read`` until it returns; retry ``retry_on`` errors until ``deadline``.

    ``deadline`` is on the ``monotonic`` clock. Past it, the last error is raised. A wait
    never runs past the deadline. ``on_retry(attempt, error)`` is called before each wait
    (``attempt`` counts tries from 1), e.g. to log.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return read()
        except retry_on as exc:
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            sleep(min(backoff.delay(attempt, rng), remaining))
