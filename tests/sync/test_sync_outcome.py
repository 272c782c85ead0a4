"""Outcome rules, pure and through the runner."""

from __future__ import annotations

import pytest
from sync_fakes import CONN

from luigi_airbyte.airbyte.models import (
    AttemptInfo,
    Job,
    JobDetails,
    JobStats,
    JobStatus,
    JobType,
    StreamStats,
)
from luigi_airbyte.errors import OutcomeRuleError
from luigi_airbyte.sync import (
    Totals,
    check_drop,
    check_lost_records,
    check_zero_rows,
    evaluate_outcome,
    totals_from_details,
)


def totals(committed: int | None, emitted: int | None = None) -> Totals:
    return Totals(
        records_emitted=emitted if emitted is not None else committed,
        records_committed=committed,
        bytes_emitted=None,
        bytes_committed=None,
    )


# ---------------------------------------------------------------- pure rules


def test_zero_rows_only_matters_when_history_moved_data():
    assert check_zero_rows(0, [0, 0, 0], "fail") is None
    assert check_zero_rows(0, [], "fail") is None
    assert check_zero_rows(5, [100], "fail") is None
    assert check_zero_rows(0, [100, 0], "ignore") is None
    warn = check_zero_rows(0, [100, 0, 50], "warn")
    assert warn is not None and not warn.fatal and "2 of the last 3" in warn.message
    fail = check_zero_rows(0, [100], "fail")
    assert fail is not None and fail.fatal


def test_sharp_drop_against_the_median():
    history = [1000, 1100, 900, 1000, 5]
    assert check_drop(600, history, 0.5, "fail") is None  # 40 % below: within threshold
    finding = check_drop(400, history, 0.5, "fail")
    assert finding is not None and finding.fatal and "60% below the median 1000" in finding.message
    assert check_drop(400, history, 0.5, "warn").fatal is False  # type: ignore[union-attr]
    assert check_drop(400, history, None, "fail") is None
    assert check_drop(400, [], 0.5, "fail") is None
    assert check_drop(0, [0, 0], 0.5, "fail") is None


def test_lost_records_is_a_warning():
    finding = check_lost_records(120, 100)
    assert finding is not None and not finding.fatal and "20 of 120" in finding.message
    assert check_lost_records(100, 100) is None
    assert check_lost_records(None, 100) is None


def test_evaluate_reports_zero_rows_once_not_as_a_drop_too():
    verdict = evaluate_outcome(totals(0), [1000, 1000], zero_rows="fail", on_drop="fail")
    assert [f.rule for f in verdict.findings] == ["zero_rows"]
    assert verdict.failures and not verdict.warnings


def test_evaluate_zero_rows_ignore_also_silences_the_drop_rule():
    verdict = evaluate_outcome(totals(0), [1000], zero_rows="ignore", on_drop="fail")
    assert verdict.findings == ()


def test_evaluate_without_counts_warns_and_skips():
    verdict = evaluate_outcome(totals(None), [1000], zero_rows="fail", on_drop="fail")
    assert verdict.failures == () and len(verdict.warnings) == 1


def _stream(name: str, emitted: int, committed: int) -> StreamStats:
    return StreamStats(name=name, records_emitted=emitted, records_committed=committed)


def _two_attempt_job(rows_synced: int | None = None) -> JobDetails:
    """Issue 9's job: attempt 0 fails part way, attempt 1 succeeds.

    ``users`` is full refresh: the retry reads it again from the start (400 + 1000).
    ``orders`` is incremental: the retry resumes at the checkpoint (300 + 200). Attempt 0
    also emitted a batch in flight (50 per stream) that it never committed.
    """
    job = Job(job_id=1, status=JobStatus.SUCCEEDED, job_type=JobType.SYNC, connection_id=CONN)
    attempts = (
        AttemptInfo(
            number=0,
            status="failed",
            records_emitted=800,
            records_committed=700,
            streams=(_stream("users", 450, 400), _stream("orders", 350, 300)),
        ),
        AttemptInfo(
            number=1,
            status="succeeded",
            records_emitted=1200,
            records_committed=1200,
            streams=(_stream("users", 1000, 1000), _stream("orders", 200, 200)),
        ),
    )
    return JobDetails(
        job=job,
        stats=JobStats(
            records_emitted=2000, records_committed=1900, attempts=attempts, rows_synced=rows_synced
        ),
    )


MODES = {"users": "full_refresh_overwrite", "orders": "incremental_append"}


def test_totals_follow_airbyte_rules_full_refresh_final_attempt_incremental_sum():
    t = totals_from_details(_two_attempt_job(), MODES)
    by_name = {s.name: (s.records_emitted, s.records_committed) for s in t.streams}
    # users: final attempt only; orders: summed over both attempts (emitted the same way)
    assert by_name == {"users": (1000, 1000), "orders": (550, 500)}
    assert t.records_committed == 1500 and t.records_emitted == 1550 and t.attempts == 2


def test_totals_never_exceed_airbytes_rows_synced():
    t = totals_from_details(_two_attempt_job(), MODES, rows_synced=1400)
    assert t.records_committed == 1400
    # without modes every stream is summed, and Airbyte's own total is the ceiling
    t = totals_from_details(_two_attempt_job(rows_synced=1500))
    assert t.records_committed == 1500


def test_a_retried_job_raises_no_lost_records_warning():
    t = totals_from_details(_two_attempt_job(), MODES)
    verdict = evaluate_outcome(t, [1500, 1500], zero_rows="fail", on_drop="fail")
    assert verdict.findings == ()


def test_lost_records_judged_on_the_final_attempt_per_stream():
    job = _two_attempt_job()
    last = job.stats.attempts[-1]
    shorted = AttemptInfo(
        number=1,
        status="succeeded",
        streams=(_stream("users", 1000, 900), _stream("orders", 200, 200)),
        records_emitted=last.records_emitted,
    )
    details = JobDetails(job=job.job, stats=JobStats(attempts=(job.stats.attempts[0], shorted)))
    t = totals_from_details(details, MODES)
    verdict = evaluate_outcome(t, [], zero_rows="ignore")
    assert [f.rule for f in verdict.findings] == ["lost_records"]
    assert "100 of 1000" in verdict.warnings[0] and "users (900 of 1000)" in verdict.warnings[0]


def test_rejected_and_filtered_records_are_not_lost():
    s = StreamStats(
        name="users",
        records_emitted=100,
        records_committed=90,
        records_rejected=4,
        records_filtered_out=6,
    )
    job = Job(job_id=1, status=JobStatus.SUCCEEDED, job_type=JobType.SYNC, connection_id=CONN)
    details = JobDetails(
        job=job, stats=JobStats(attempts=(AttemptInfo(number=0, status="succeeded", streams=(s,)),))
    )
    assert evaluate_outcome(totals_from_details(details), [], zero_rows="ignore").findings == ()


def test_totals_prefer_job_level_streams_when_present():
    job = Job(job_id=1, status=JobStatus.SUCCEEDED, job_type=JobType.SYNC, connection_id=CONN)
    streams = (StreamStats(name="users", records_committed=7),)
    details = JobDetails(job=job, stats=JobStats(records_committed=7, streams=streams))
    assert totals_from_details(details).streams == streams


# ---------------------------------------------------------------- through the runner


def test_zero_rows_fail_raises_and_marks_the_ledger_rejected(fake, ledger, emitter, make_runner):
    fake.add_history(CONN, [10, 10, 10], rows=[500, 600, 550])
    fake.job_defaults = {"rows": 0}
    with pytest.raises(OutcomeRuleError, match="committed 0 rows") as info:
        make_runner(zero_rows="fail").run(CONN, "rk")
    assert info.value.job_id is not None
    (entry,) = [e for e in ledger.entries() if e.run_key == "rk"]
    assert entry.finished and entry.status == "rejected" and entry.rows_committed == 0
    assert ledger.last_succeeded("rk") is None  # a rejected job never counts as done
    assert "sync.rejected" in emitter.names()


def test_zero_rows_warn_returns_with_a_warning(fake, emitter, make_runner):
    fake.add_history(CONN, [10, 10, 10], rows=[500, 600, 550])
    fake.job_defaults = {"rows": 0}
    result = make_runner().run(CONN, "rk")
    assert result.rows_committed == 0
    assert any("committed 0 rows" in w for w in result.warnings)
    assert "sync.outcome_warning" in emitter.names()


def test_sharp_drop_warn_vs_fail(fake, make_runner):
    fake.add_history(CONN, [10] * 5, rows=[1000] * 5)
    fake.job_defaults = {"rows": 100}
    result = make_runner().run(CONN, "rk-warn")
    assert any("90% below" in w for w in result.warnings)
    with pytest.raises(OutcomeRuleError, match="90% below"):
        make_runner(on_drop="fail").run(CONN, "rk-fail")


def test_lost_records_surface_as_warnings(fake, make_runner):
    fake.job_defaults = {"rows": 90, "emitted": 100}
    result = make_runner().run(CONN, "rk")
    assert result.records_emitted == 100
    assert any("10 of 100 emitted records" in w for w in result.warnings)


def test_counts_fall_back_to_rows_synced_without_details(clock, ledger):
    from sync_fakes import FakeAirbyte

    from luigi_airbyte.sync import SyncRunner

    fake = FakeAirbyte(clock, details_available=False)
    fake.job_defaults = {"rows": 1234, "bytes": 99}
    result = SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    assert (result.rows_committed, result.bytes_committed, result.attempts) == (1234, 99, 0)
    assert result.streams == ()
    assert ledger.entries()[0].rows_committed == 1234


def test_result_carries_streams_and_attempts(fake, make_runner):
    streams = (
        StreamStats(name="users", records_committed=60),
        StreamStats(name="orders", records_committed=40),
    )
    attempts = (AttemptInfo(number=0, status="succeeded", records_committed=100, streams=streams),)
    fake.job_defaults = {"rows": 100, "streams": streams, "attempts": attempts}
    result = make_runner().run(CONN, "rk")
    assert result.streams == streams
    assert result.attempts == 1
    assert result.duration_s == pytest.approx(10, abs=1)
    assert result.job_url.endswith(f"#{result.job_id}")


def test_reset_and_clear_skip_row_rules(fake, make_runner):
    fake.add_history(CONN, [10] * 3, rows=[1000] * 3, job_type=JobType.CLEAR)
    fake.job_defaults = {"rows": 0}
    result = make_runner(zero_rows="fail", on_drop="fail").clear(CONN, "clear-1", confirm=True)
    assert result.warnings == () and result.job_type is JobType.CLEAR


def test_a_stream_of_unknown_mode_keeps_airbytes_own_aggregate() -> None:
    job = _two_attempt_job()
    server = (_stream("users", 1000, 1000), _stream("orders", 550, 500))
    details = JobDetails(
        job=job.job,
        stats=JobStats(attempts=job.stats.attempts, streams=server, streams_from_server=True),
    )
    t = totals_from_details(details, {"orders": "incremental_append"})
    assert {s.name: s.records_committed for s in t.streams} == {"users": 1000, "orders": 500}


def test_filtered_out_records_are_read_from_attempt_stats() -> None:
    attempt = AttemptInfo.from_api(
        {
            "id": 0,
            "status": "succeeded",
            "streamStats": [
                {
                    "streamName": "users",
                    "stats": {
                        "recordsEmitted": 10,
                        "recordsCommitted": 7,
                        "additionalStats": {"recordsFilteredOut": 3},
                    },
                }
            ],
        }
    )
    assert attempt.streams[0].records_filtered_out == 3
