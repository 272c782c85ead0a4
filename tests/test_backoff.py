"""luigi_airbyte.backoff: the one place waits between tries are computed."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luigi_airbyte.backoff import Backoff, jittered, parse_retry_after, retry_until

backoffs = st.builds(
    Backoff,
    attempts=st.integers(1, 10),
    base=st.floats(0, 10, allow_nan=False),
    cap=st.floats(0, 120, allow_nan=False),
    factor=st.floats(1, 4, allow_nan=False),
    jitter=st.sampled_from(["full", "equal", "none"]),
)


@given(b=backoffs, retry=st.integers(-5, 500), seed=st.integers(0, 2**32))
def test_every_wait_is_within_zero_and_the_capped_ceiling(
    b: Backoff, retry: int, seed: int
) -> None:
    ceiling = b.ceiling(retry)
    assert 0.0 <= ceiling <= b.cap
    assert ceiling <= max(b.base, b.base * b.factor ** min(max(retry - 1, 0), 62)) + 1e-9
    delay = b.delay(retry, random.Random(seed))
    assert 0.0 <= delay <= ceiling
    if b.jitter == "equal":
        assert delay >= ceiling / 2
    if b.jitter == "none":
        assert delay == ceiling


@given(ceiling=st.floats(0, 1e6, allow_nan=False), seed=st.integers(0, 2**32))
def test_full_jitter_stays_within_zero_and_the_ceiling(ceiling: float, seed: int) -> None:
    assert 0.0 <= jittered(ceiling, "full", random.Random(seed)) <= ceiling


def test_full_jitter_spreads_over_the_whole_range() -> None:
    rng = random.Random(7)
    waits = [Backoff(base=8.0, cap=8.0, jitter="full").delay(1, rng) for _ in range(2000)]
    assert min(waits) < 0.5 and max(waits) > 7.5  # not equal jitter, not a fixed wait


def test_the_cap_holds_however_many_retries() -> None:
    b = Backoff(base=0.5, cap=5.0, factor=1.5, jitter="none")
    assert [b.ceiling(n) for n in range(1, 9)] == [
        0.5,
        0.75,
        1.125,
        1.6875,
        2.53125,
        3.796875,
        5.0,
        5.0,
    ]
    assert b.ceiling(10**9) == 5.0
    assert Backoff(base=1.0, cap=60.0, factor=1000.0, jitter="none").ceiling(10**6) == 60.0


def test_an_injected_rng_makes_waits_repeatable() -> None:
    b = Backoff(base=1.0, cap=30.0, jitter="full")
    first = [b.delay(n, random.Random(3)) for n in range(1, 6)]
    assert first == [b.delay(n, random.Random(3)) for n in range(1, 6)]


def test_delays_follow_the_schedule() -> None:
    schedule = Backoff(base=0.5, cap=5.0, jitter="none").delays()
    assert [next(schedule) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize(
    "kwargs", [{"base": -1.0}, {"cap": -1.0}, {"factor": 0.5}, {"jitter": "half"}]
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)  # type: ignore[arg-type]


# -- Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("7", 7.0), (" 0 ", 0.0), ("0.25", 0.25)])
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


@given(offset=st.integers(-(10**6), 10**6))
def test_retry_after_as_an_http_date(offset: int) -> None:
    now = 1_700_000_000
    when = datetime.fromtimestamp(now + offset, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == max(0, offset)


def test_an_http_date_without_a_zone_is_gmt() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 -0000", now=1_700_000_000) == 20.0


@pytest.mark.parametrize(
    ("value", "cap", "expected"),
    [("3600", 30.0, 30.0), ("Tue, 14 Nov 2023 23:13:20 GMT", 30.0, 30.0), ("2", 30.0, 2.0)],
)
def test_retry_after_is_capped(value: str, cap: float, expected: float) -> None:
    assert parse_retry_after(value, now=1_700_000_000, cap=cap) == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "-1", "-0.5", "soon", "nan", "inf", "Mon, 99 Foo 2024", "12 apples"],
)
def test_negative_or_garbage_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None
    assert parse_retry_after(value, cap=10.0) is None


# -- retry_until ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_retry_until_returns_once_the_read_works() -> None:
    clock = FakeClock()
    results = iter([OSError("down"), OSError("down"), "ok"])
    tries: list[int] = []

    def read() -> str:
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return r

    got = retry_until(
        read,
        retry_on=(OSError,),
        deadline=10.0,
        backoff=Backoff(base=0.5, cap=5.0, jitter="none"),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        on_retry=lambda attempt, exc: tries.append(attempt),
    )
    assert got == "ok" and clock.sleeps == [0.5, 1.0] and tries == [1, 2]


def test_retry_until_raises_the_last_error_at_the_deadline_and_never_sleeps_past_it() -> None:
    clock = FakeClock()

    def read() -> str:
        raise OSError(f"down at {clock.now}")

    with pytest.raises(OSError, match=r"down at 3\.0"):
        retry_until(
            read,
            retry_on=(OSError,),
            deadline=3.0,
            backoff=Backoff(base=0.5, cap=5.0, jitter="none"),
            monotonic=clock.monotonic,
            sleep=clock.sleep,
        )
    assert clock.sleeps == [0.5, 1.0, 1.5]


def test_retry_until_does_not_retry_other_errors() -> None:
    clock = FakeClock()

    def read() -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        retry_until(
            read,
            retry_on=(OSError,),
            deadline=10.0,
            backoff=Backoff(),
            monotonic=clock.monotonic,
            sleep=clock.sleep,
        )
    assert clock.sleeps == []
