"""Settings validation, reset/clear, progress reporting, details cost, events and logs."""

from __future__ import annotations

import logging

import pytest
from sync_fakes import CONN, FakeAirbyte, quick_success

from luigi_airbyte.airbyte.models import JobStatus, JobType
from luigi_airbyte.errors import ConfigError
from luigi_airbyte.sync import (
    AdaptivePolling,
    AirbyteJobsAPI,
    FixedInterval,
    Progress,
    SyncRunner,
    SyncSettings,
)


def test_fake_satisfies_the_protocol(fake):
    api: AirbyteJobsAPI = fake
    assert api.job_url is not None


def test_default_settings_match_the_design():
    s = SyncSettings()
    assert isinstance(s.poll_strategy, AdaptivePolling)
    assert (s.timeout, s.on_timeout, s.on_interrupt) == (6 * 3600, "cancel", "detach")
    assert (s.stuck_after, s.on_stuck, s.confirm_window) == (1800, "warn", 30)
    assert (s.zero_rows, s.drop_threshold, s.on_drop, s.history_size) == ("warn", 0.5, "warn", 10)


def test_settings_list_every_problem():
    with pytest.raises(ConfigError) as info:
        SyncSettings(
            timeout=-1,
            on_timeout="explode",  # type: ignore[arg-type]
            drop_threshold=2.0,
            history_size=0,
            confirm_window=float("nan"),
        )
    fields = {p.field for p in info.value.problems}
    assert fields == {"timeout", "on_timeout", "drop_threshold", "history_size", "confirm_window"}


def test_clear_needs_confirmation(fake, make_runner):
    runner = make_runner()
    with pytest.raises(ConfigError, match="confirm_clear: true") as info:
        runner.clear(CONN, "clear-1", confirm=False)
    assert info.value.problems[0].field == "confirm_clear"
    assert fake.calls == []  # nothing touched Airbyte


def test_clear_and_reset_use_the_same_machinery(fake, ledger, make_runner):
    runner = make_runner()
    cleared = runner.clear(CONN, "clear-1", confirm=True)
    reset = runner.reset(CONN, "reset-1")
    assert cleared.job_type is JobType.CLEAR and reset.job_type is JobType.RESET
    types = sorted(j.job_type.value for j in fake.created_by_post())
    assert types == ["clear", "reset"]
    assert {e.job_type for e in ledger.entries()} == {"clear", "reset"}


def test_clear_attaches_to_a_running_clear_not_a_sync(fake, make_runner):
    clear = fake.add_job(CONN, script=quick_success(20), job_type=JobType.CLEAR)
    result = make_runner().clear(CONN, "clear-1", confirm=True)
    assert result.job_id == clear.job_id and result.attached_how == "running"


def test_progress_reports_status_percent_records_and_url(clock, ledger):
    fake = FakeAirbyte(clock, script=lambda: quick_success(100))
    fake.add_history(CONN, [100] * 5, rows=[500] * 5)
    fake.job_defaults = {"emitted": 400, "rows": 500}
    seen: list[Progress] = []
    runner = SyncRunner(
        fake,
        ledger,
        clock=clock,
        settings=SyncSettings(details_interval=20.0, progress_interval=10.0),
    )
    result = runner.run(CONN, "rk", on_progress=seen.append)
    assert seen, "no progress reported"
    assert seen[0].expected_s == pytest.approx(100)
    assert seen[-1].status is JobStatus.SUCCEEDED and seen[-1].percent == 100.0
    running = [p for p in seen if p.status is JobStatus.RUNNING]
    assert running and all(0 <= (p.percent or 0) < 100 for p in running)
    percents = [p.percent for p in running]
    assert percents == sorted(percents)  # type: ignore[type-var]
    assert any(p.records == 400 for p in seen)
    assert all(p.job_url == result.job_url for p in seen)
    assert f"job {result.job_id}" in seen[-1].message
    # Throttled: nowhere near one callback per poll.
    assert len(seen) < fake.calls.count("get_job")


def test_details_are_fetched_sparingly(clock, ledger):
    fake = FakeAirbyte(clock, script=lambda: quick_success(600))
    runner = SyncRunner(
        fake,
        ledger,
        clock=clock,
        settings=SyncSettings(poll_strategy=FixedInterval(1.0), details_interval=60.0),
    )
    runner.run(CONN, "rk", on_progress=lambda p: None)
    gets = fake.calls.count("get_job")
    details = fake.calls.count("get_job_details")
    assert gets >= 590
    assert details <= 600 / 60 + 2


def test_a_failing_progress_callback_does_not_fail_the_sync(fake, make_runner, caplog):
    def boom(p: Progress) -> None:
        raise RuntimeError("luigid unreachable")

    with caplog.at_level(logging.ERROR):
        result = make_runner().run(CONN, "rk", on_progress=boom)
    assert result.status is JobStatus.SUCCEEDED
    assert any("progress callback failed" in r.getMessage() for r in caplog.records)


def test_events_carry_ids(fake, emitter, make_runner):
    result = make_runner().run(CONN, "rk")
    for event in emitter.events:
        assert event.fields["connection_id"] == CONN
        assert event.fields["job_id"] == result.job_id
        assert event.fields["run_key"] == "rk"
    assert emitter.names()[0] == "sync.triggered"
    assert emitter.names()[-1] == "sync.succeeded"


def test_job_log_lines_name_connection_and_job(fake, make_runner, caplog):
    fake.create_faults = ["drop_after_create"]
    fake.get_error_rate = 0.3
    with caplog.at_level(logging.DEBUG, logger="luigi_airbyte.sync"):
        result = make_runner().run(CONN, "rk")
    lines = [r for r in caplog.records if r.name.startswith("luigi_airbyte.sync.runner")]
    assert lines
    for record in lines:
        message = record.getMessage()
        assert f"connection {CONN} job " in message, message
    assert any(f"job {result.job_id}:" in r.getMessage() for r in lines)


def test_uses_adaptive_history_when_waiting(clock, ledger):
    fake = FakeAirbyte(clock, script=lambda: quick_success(40))
    fake.add_history(CONN, [40] * 10, rows=[10] * 10)
    runner = SyncRunner(fake, ledger, clock=clock, settings=SyncSettings(stuck_after=None))
    runner.run(CONN, "rk")
    # With history the first sleep is long (sparse early), later ones short.
    sleeps = clock.sleeps
    assert sleeps[0] >= 10
    assert min(sleeps) <= AdaptivePolling().dense
    assert fake.calls.count("get_job") < 40 / 3


def test_reattached_job_is_placed_by_its_start_time(clock, ledger):
    fake = FakeAirbyte(clock)
    fake.add_history(CONN, [100] * 5, rows=[10] * 5)
    fake.add_job(CONN, script=quick_success(100))
    clock.advance(50)
    seen: list[Progress] = []
    SyncRunner(fake, ledger, clock=clock).run(CONN, "rk", on_progress=seen.append)
    assert seen[0].elapsed_s == pytest.approx(50, abs=1)
    assert seen[0].percent == pytest.approx(47.5, abs=1)


@pytest.mark.parametrize("skew", [0.0, -0.9])
def test_a_job_we_posted_is_timed_from_our_post_not_from_airbytes_start_time(
    clock, make_runner, skew
):
    # Airbyte writes startTime in whole seconds, so a job posted a moment ago can look up
    # to a second old (modelled here by a server clock 0.9 s behind). Aged by that, every
    # look at it came up to a second early: with history (10 s jobs) the first look at
    # 6.8 s instead of 7.5 s (AdaptivePolling: three quarters of the way to the end).
    script = [("running", 10.0), ("succeeded", None)]  # running from the POST on
    fake = FakeAirbyte(clock, script=lambda: list(script), server_skew=skew)
    fake.add_history(CONN, [10.0] * 5)
    looks: list[float] = []
    fake.on_get = lambda job_id, nth: looks.append(clock.monotonic())
    runner = SyncRunner(fake, make_runner().ledger, clock=clock, settings=SyncSettings())
    posted = clock.monotonic()
    assert runner.run(CONN, "k:skew").status is JobStatus.SUCCEEDED
    assert looks[0] - posted == pytest.approx(7.5, abs=0.05)
