"""When to ask Airbyte again: poll strategies.

Polling trades two costs: requests (load on Airbyte, rate limits) and detection latency
(how long after the job ends we notice, which delays every downstream task). A fixed
interval pays the same everywhere. ``AdaptivePolling`` spends requests where the end is
likely: around the duration recent successful jobs of the same connection took.
``benchmarks/polling_sim.py`` measures both costs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from luigi_airbyte.airbyte.models import Job, JobStatus

#: The runner never polls more often than this, whatever a custom strategy says.
MIN_POLL_DELAY = 0.05

# Scale factor that turns a median absolute deviation into a standard-deviation estimate.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class PollState:
    """What a strategy may look at when choosing the next delay.

    ``elapsed`` counts from the job's start (Airbyte ``startTime``) when known, so a
    re-attached job is placed correctly against ``expected``.
    """

    elapsed: float
    polls: int = 0
    expected: float | None = None  # median duration of recent succeeded jobs, seconds
    last_status: JobStatus | None = None
    spread: float | None = None  # robust standard deviation of those durations, seconds


class PollStrategy(Protocol):
    """Chooses how long to sleep before the next ``GET /jobs/{id}``."""

    def next_delay(self, state: PollState) -> float: ...


@dataclass(frozen=True)
class FixedInterval:
    """Poll every ``seconds``, like most peer integrations (Airflow 3 s, Dagster 10 s)."""

    seconds: float = 3.0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"FixedInterval.seconds must be > 0, got {self.seconds!r}")

    def next_delay(self, state: PollState) -> float:
        return self.seconds


@dataclass(frozen=True)
class AdaptivePolling:
    """Sparse early, dense around the expected end, backing off when the job overruns.

    With history (``state.expected``), the timeline has three parts:

    * before the window ``expected ± half`` (``half = window * spread``, at least
      ``min_window``): sleep ``approach * (expected - elapsed)`` but never past the
      window start, so the first poll inside the window lands on its edge;
    * inside the window: sleep at most ``dense`` (the job most likely ends here);
    * after it (the job overruns): sleep ``overrun * (elapsed - window end)``, which grows
      exponentially with each poll, capped by ``max_delay``.

    Without history: the first poll after ``initial`` seconds, then every
    ``growth * elapsed`` (dense right after the trigger, sparser as the job ages).
    Every delay is clamped to ``[min_delay, max_delay]``.

    The defaults were tuned with ``benchmarks/polling_sim.py`` for a median detection
    latency at or under 0.5 s while sending fewer requests than a fixed 3 s interval,
    for jobs of 1-60 s whose durations vary about 10 % from run to run (simulated:
    0.38 s and 7.5 requests per job, against 1.53 s and 11.4 for fixed 3 s). The price
    is the tail: a job that ends far from its usual duration is noticed later (p95
    3.9 s against 2.8 s), and an early failure waits at most ``max_delay``. With 25 %
    variation the median holds (0.46 s) but requests match fixed 3 s.
    """

    min_delay: float = 0.25
    max_delay: float = 30.0
    approach: float = 0.75
    window: float = 0.5
    min_window: float = 0.4
    min_spread: float = 0.05  # fraction of expected assumed as spread at least
    default_spread: float = 0.15  # fraction of expected when the spread is unknown
    dense: float = 0.5
    overrun: float = 0.4
    initial: float = 1.0
    growth: float = 0.15

    def __post_init__(self) -> None:
        if not 0 < self.min_delay <= self.max_delay:
            raise ValueError("AdaptivePolling needs 0 < min_delay <= max_delay")
        for name in ("approach", "overrun", "growth"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"AdaptivePolling.{name} must be in (0, 1]")
        for name in ("window", "min_window", "dense", "initial"):
            if not getattr(self, name) > 0:
                raise ValueError(f"AdaptivePolling.{name} must be > 0")
        if not (self.min_spread >= 0 and self.default_spread >= 0):
            raise ValueError("AdaptivePolling spreads must be >= 0")

    def _clamp(self, delay: float) -> float:
        return min(self.max_delay, max(self.min_delay, delay))

    def window_bounds(self, expected: float, spread: float | None) -> tuple[float, float]:
        """The dense window ``(start, end)`` in seconds since the job started."""
        fallback = self.default_spread * expected if spread is None else spread
        sigma = max(fallback, self.min_spread * expected)
        half = max(self.min_window, self.window * sigma)
        return expected - half, expected + half

    def next_delay(self, state: PollState) -> float:
        t = max(0.0, state.elapsed)
        expected = state.expected
        if expected is None or expected <= 0:
            if state.polls == 0:
                return self._clamp(max(self.initial, self.growth * t))
            # After the first look, dense while the job is young and sparser as it ages:
            # a job that ends just after the first poll is seen ``min_delay`` later, not
            # a whole ``initial`` later (a 1 s job took 2 s when each first poll came a
            # few ms before the end).
            return self._clamp(self.growth * t)
        start, end = self.window_bounds(expected, state.spread)
        dense = self._clamp(self.dense)
        if t < start:
            step = self.approach * (expected - t)
            if t + step >= start:
                step = start - t
            return self._clamp(step)
        if t <= end:
            return dense
        return self._clamp(max(dense, self.overrun * (t - end)))


def job_duration(job: Job) -> float | None:
    """Seconds a finished job took: ``duration``, else ``lastUpdatedAt - startTime``."""
    if job.duration is not None:
        return job.duration.total_seconds()
    if job.start_time is not None and job.last_updated_at is not None:
        return max(0.0, (job.last_updated_at - job.start_time).total_seconds())
    return None


@dataclass(frozen=True)
class DurationStats:
    """Median and robust spread of recent successful durations."""

    expected: float
    spread: float | None
    samples: int


def duration_stats(durations: Iterable[float]) -> DurationStats | None:
    """Median and scaled MAD of ``durations``; ``None`` without any positive sample.

    Median and MAD rather than mean and standard deviation: one job that hung for an
    hour must not stretch the window for the next ten runs.
    """
    values = sorted(d for d in durations if d > 0)
    if not values:
        return None
    median = statistics.median(values)
    spread: float | None = None
    if len(values) >= 3:
        spread = _MAD_TO_SIGMA * statistics.median(abs(v - median) for v in values)
    return DurationStats(expected=median, spread=spread, samples=len(values))


def history_duration_stats(history: Sequence[Job]) -> DurationStats | None:
    """``duration_stats`` over the succeeded jobs in ``history``."""
    durations = [
        d for job in history if job.status is JobStatus.SUCCEEDED and (d := job_duration(job))
    ]
    return duration_stats(durations)
