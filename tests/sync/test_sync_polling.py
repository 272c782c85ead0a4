"""Poll strategies: deterministic properties, no timing."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.sync import (
    AdaptivePolling,
    FixedInterval,
    PollState,
    duration_stats,
    history_duration_stats,
    job_duration,
)

ADAPTIVE = AdaptivePolling()

elapsed_s = st.floats(min_value=0, max_value=100_000, allow_nan=False)
expected_s = st.one_of(st.none(), st.floats(min_value=0.1, max_value=50_000, allow_nan=False))
spread_s = st.one_of(st.none(), st.floats(min_value=0, max_value=5_000, allow_nan=False))


@given(elapsed=elapsed_s, expected=expected_s, spread=spread_s, polls=st.integers(0, 10_000))
def test_delay_is_always_within_bounds(elapsed, expected, spread, polls):
    state = PollState(elapsed=elapsed, polls=polls, expected=expected, spread=spread)
    delay = ADAPTIVE.next_delay(state)
    assert ADAPTIVE.min_delay <= delay <= ADAPTIVE.max_delay


@given(expected=st.floats(min_value=5, max_value=3600), far=st.floats(min_value=0.0, max_value=0.5))
def test_denser_near_the_expected_end_than_early(expected, far):
    early = ADAPTIVE.next_delay(PollState(elapsed=far * expected, expected=expected))
    near = ADAPTIVE.next_delay(PollState(elapsed=expected, expected=expected))
    assert near <= early
    assert near <= ADAPTIVE.dense


@given(expected=st.floats(min_value=1, max_value=3600))
def test_inside_the_window_polls_at_most_every_dense_seconds(expected):
    start, end = ADAPTIVE.window_bounds(expected, None)
    assert start < expected < end
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        t = start + fraction * (end - start)
        assert ADAPTIVE.next_delay(PollState(elapsed=t, expected=expected)) <= ADAPTIVE.dense


def test_never_sleeps_past_the_window_start():
    start, _ = ADAPTIVE.window_bounds(60.0, 3.0)
    t = 0.0
    while t < start:
        d = ADAPTIVE.next_delay(PollState(elapsed=t, expected=60.0, spread=3.0))
        assert t + d <= start + ADAPTIVE.min_delay  # lands on the window's edge
        t += d


@given(expected=st.floats(min_value=1, max_value=3600))
def test_backs_off_on_overrun_monotonically_up_to_the_cap(expected):
    _, end = ADAPTIVE.window_bounds(expected, None)
    delays = [
        ADAPTIVE.next_delay(PollState(elapsed=end + k * expected, expected=expected))
        for k in (0.01, 0.1, 0.5, 1, 2, 10, 100)
    ]
    assert delays == sorted(delays)
    assert delays[-1] == ADAPTIVE.max_delay


def test_overrun_delay_grows_exponentially_per_poll():
    t, delays = 100.0 + 10, []
    for _ in range(8):
        d = ADAPTIVE.next_delay(PollState(elapsed=t, expected=100.0, spread=5.0))
        delays.append(d)
        t += d
    ratios = [b / a for a, b in itertools.pairwise(delays) if b < ADAPTIVE.max_delay]
    assert all(r == pytest.approx(1 + ADAPTIVE.overrun) for r in ratios[1:])


def test_without_history_starts_near_one_second_and_grows_gently():
    first = ADAPTIVE.next_delay(PollState(elapsed=0))
    assert first == pytest.approx(1.0)
    ten_min = ADAPTIVE.next_delay(PollState(elapsed=600))
    assert first < ten_min <= ADAPTIVE.max_delay
    assert ADAPTIVE.next_delay(PollState(elapsed=60)) <= 10


def test_without_history_a_job_still_running_at_the_first_poll_is_looked_at_again_soon():
    # The first poll of a 1 s job came a few ms before its end (the job starts a little
    # after the POST): with the next poll a whole second later, every 1 s sync took 2 s.
    again = ADAPTIVE.next_delay(PollState(elapsed=1.0, polls=1))
    assert again <= 0.3
    # ... and the polls thin out as the job ages (15 % of its age).
    assert ADAPTIVE.next_delay(PollState(elapsed=20.0, polls=8)) == pytest.approx(3.0)


def test_fixed_interval_and_validation():
    assert FixedInterval(3).next_delay(PollState(elapsed=123)) == 3
    with pytest.raises(ValueError):
        FixedInterval(0)
    with pytest.raises(ValueError):
        AdaptivePolling(min_delay=5, max_delay=1)
    with pytest.raises(ValueError):
        AdaptivePolling(approach=1.5)


def test_duration_stats_median_and_robust_spread():
    stats = duration_stats([10, 11, 9, 10, 300])
    assert stats is not None and stats.expected == 10 and stats.samples == 5
    assert stats.spread == pytest.approx(1.4826)
    assert duration_stats([]) is None
    assert duration_stats([0, -1]) is None
    two = duration_stats([10, 20])
    assert two is not None and two.spread is None


def _job(
    status: JobStatus, duration: float | None, start_end: tuple[int, int] | None = None
) -> Job:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Job(
        job_id=1,
        status=status,
        job_type=JobType.SYNC,
        connection_id="c",
        duration=None if duration is None else timedelta(seconds=duration),
        start_time=None if start_end is None else base + timedelta(seconds=start_end[0]),
        last_updated_at=None if start_end is None else base + timedelta(seconds=start_end[1]),
    )


def test_history_durations_use_only_succeeded_jobs():
    history = [
        _job(JobStatus.SUCCEEDED, 30),
        _job(JobStatus.SUCCEEDED, None, (0, 40)),
        _job(JobStatus.FAILED, 2),
        _job(JobStatus.SUCCEEDED, 35),
    ]
    assert job_duration(history[1]) == 40
    stats = history_duration_stats(history)
    assert stats is not None and stats.expected == 35 and stats.samples == 3
