"""The one retry policy: which failures to retry, and how long to wait.

Retrying is only safe when a resend cannot do the work twice. So:

* connect errors (nothing reached the server) are always retried;
* 429, 500/502/503/504, timeouts and dropped connections are retried only for
  idempotent requests (GET and the config API's read-only POSTs), never for
  ``POST /jobs``; other statuses (501, 505, 4xx) are not retried;
* waits are capped exponential backoff with full jitter, and a server's
  ``Retry-After`` (seconds or an HTTP-date) is honoured, capped at ``max_delay``;
* a 429 *without* ``Retry-After`` is throttling (since mid-2026 an Airbyte operator can
  throttle one user that way): it backs off on its own, slower schedule, exponential
  from ``throttle_base_delay`` (2 s) with equal jitter (half the ceiling fixed, half
  random), each wait at most ``throttle_max_delay`` (60 s), for at most
  ``throttle_max_elapsed`` (300 s) in all. That is the documented ceiling: after it the
  request fails with ``RateLimitedError`` saying it was throttled.

The policy only decides and sleeps; the client's send loop applies it (a transport
hack could not tell a ``POST /jobs`` from a GET). The arithmetic (exponential ceiling,
jitter, ``Retry-After`` parsing) is ``luigi_airbyte.backoff``'s, shared with the sync
runner and the sinks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Literal

import httpx

from luigi_airbyte.backoff import Backoff

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# The request never left this machine: resending cannot duplicate anything.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Configuration mistakes: retrying cannot help.
PERMANENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.ProxyError,
)


class RetryPolicy:
    """How often and how long to retry a failed Airbyte request.

    Args:
        max_attempts: total tries including the first (1 disables retries).
        base_delay: first backoff ceiling in seconds; doubles each attempt.
        max_delay: no single wait is longer, whatever ``Retry-After`` says.
        max_elapsed: stop retrying when the next wait would pass this many seconds
            since the first try.
        jitter: ``"full"`` waits uniformly in ``[0, ceiling]`` (spreads a herd of
            clients); ``"none"`` waits the ceiling.
        sleep: injectable for fast tests.
        rng: random source for the jitter; injectable for deterministic tests.
        clock: monotonic clock for ``max_elapsed``.
        throttle_base_delay / throttle_max_delay / throttle_max_elapsed: the schedule
            for a 429 without ``Retry-After`` (see the module docstring); by default
            4x ``base_delay``, 2x ``max_delay`` and 2.5x ``max_elapsed``.
    """

    def __init__(
        self,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_elapsed: float = 120.0,
        jitter: Literal["full", "none"] = "full",
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        throttle_base_delay: float | None = None,
        throttle_max_delay: float | None = None,
        throttle_max_elapsed: float | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay < 0 or max_delay < 0 or max_elapsed < 0:
            raise ValueError("delays must not be negative")
        if jitter not in ("full", "none"):
            raise ValueError("jitter must be 'full' or 'none'")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_elapsed = max_elapsed
        self.jitter = jitter
        self.sleep = sleep
        self.rng = rng if rng is not None else random.Random()
        self.clock = clock
        self.throttle_base_delay = (
            4 * base_delay if throttle_base_delay is None else throttle_base_delay
        )
        self.throttle_max_delay = (
            2 * max_delay if throttle_max_delay is None else throttle_max_delay
        )
        self.throttle_max_elapsed = (
            2.5 * max_elapsed if throttle_max_elapsed is None else throttle_max_elapsed
        )
        if min(self.throttle_base_delay, self.throttle_max_delay, self.throttle_max_elapsed) < 0:
            raise ValueError("throttle delays must not be negative")

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts}, base_delay={self.base_delay}, "
            f"max_delay={self.max_delay}, max_elapsed={self.max_elapsed}, "
            f"jitter={self.jitter!r})"
        )

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based).

        A ``Retry-After`` from the server wins over the backoff, capped at ``max_delay``.
        """
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_delay)
        schedule = Backoff(self.max_attempts, self.base_delay, self.max_delay, jitter=self.jitter)
        return schedule.delay(attempt, self.rng)

    def is_retryable_status(self, status_code: int, *, idempotent: bool) -> bool:
        """Whether an error status may be retried for this kind of request."""
        return idempotent and status_code in RETRYABLE_STATUSES

    def is_retryable_error(self, exc: httpx.HTTPError, *, sent: bool, idempotent: bool) -> bool:
        """Whether a transport error may be retried.

        Args:
            exc: the httpx error.
            sent: False when the request certainly never reached the server.
            idempotent: whether sending the request twice is harmless.
        """
        if isinstance(exc, PERMANENT_ERRORS):
            return False
        if not sent:
            return True
        return idempotent and isinstance(exc, httpx.TransportError)

    def throttle_backoff(self, throttled: int) -> float:
        """Seconds to wait after the ``throttled``-th 429 without ``Retry-After`` in a row.

        Equal jitter: at least half the ceiling, so a throttled client never retries at
        once, and never more than ``throttle_max_delay``.
        """
        schedule = Backoff(
            self.max_attempts,
            self.throttle_base_delay,
            self.throttle_max_delay,
            jitter="none" if self.jitter == "none" else "equal",
        )
        return schedule.delay(throttled, self.rng)

    def next_throttle_delay(self, throttled: int, started: float) -> float | None:
        """The wait before retrying a throttled request, or None past the ceiling."""
        delay = self.throttle_backoff(throttled)
        if self.max_attempts <= 1 or self.clock() - started + delay > self.throttle_max_elapsed:
            return None
        return delay

    def next_delay(
        self, attempt: int, started: float, retry_after: float | None = None
    ) -> float | None:
        """The wait before the next try, or None when attempts or time are used up."""
        if attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt, retry_after)
        if self.clock() - started + delay > self.max_elapsed:
            return None
        return delay
