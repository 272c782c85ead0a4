"""Which statuses end a wait, and how each terminal status is reported."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_fakes import CONN, FakeAirbyte

from luigi_airbyte.airbyte.models import AttemptInfo, JobStatus
from luigi_airbyte.errors import (
    JobCreateUncertainError,
    SyncCancelledError,
    SyncFailedError,
    SyncTimeoutError,
)
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import FakeClock, FixedInterval, SyncRunner, SyncSettings

NON_TERMINAL = ["pending", "queued", "running", "incomplete"]


def _runner(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock, **kw: object
) -> SyncRunner:
    settings = SyncSettings(poll_strategy=FixedInterval(1.0), **kw)  # type: ignore[arg-type]
    return SyncRunner(fake, ledger, clock=clock, settings=settings)


@pytest.mark.parametrize("waiting", ["queued", "incomplete", "pending", "brand-new-status"])
def test_non_terminal_statuses_keep_waiting(fake, ledger, clock, waiting):
    job = fake.add_job(CONN, per_poll=["running", waiting, waiting, waiting, "succeeded"])
    result = _runner(fake, ledger, clock).run(CONN, "rk")
    assert result.job_id == job.job_id
    assert result.status is JobStatus.SUCCEEDED
    assert fake.calls.count("get_job") == 5  # the listing saw "running" without consuming it


def test_unknown_status_warns_once(fake, ledger, clock, caplog):
    fake.add_job(CONN, per_poll=["running", "paused", "paused", "paused", "succeeded"])
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.sync.runner"):
        _runner(fake, ledger, clock).run(CONN, "rk")
    notes = [r for r in caplog.records if "does not know" in r.getMessage()]
    assert len(notes) == 1
    assert CONN in notes[0].getMessage() and "'paused'" in notes[0].getMessage()


weird = st.one_of(
    st.sampled_from(NON_TERMINAL),
    st.text(min_size=1, max_size=12).filter(
        lambda s: s.lower() not in {"succeeded", "failed", "cancelled"}
    ),
    st.none(),
    st.integers(),
    st.just(""),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.lists(weird, max_size=15),
    terminal=st.sampled_from(["succeeded", "failed", "cancelled", "SUCCEEDED", None]),
)
def test_status_sequences_succeed_iff_terminal_succeeded(prefix, terminal):
    with _quiet():
        _check_sequence(prefix, terminal)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    logger = logging.getLogger("luigi_airbyte")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def _check_sequence(prefix: list[object], terminal: str | None) -> None:
    clock = FakeClock()
    fake = FakeAirbyte(clock)
    statuses = ["running", *prefix] + ([terminal] if terminal else [])
    fake.add_job(CONN, per_poll=statuses)
    ledger = InMemoryLedger()
    runner = _runner(fake, ledger, clock, timeout=120.0, stuck_after=None)
    outcome: object
    try:
        result = runner.run(CONN, "rk")
        outcome = result.status.value
    except SyncFailedError:
        outcome = "failed"
    except SyncCancelledError:
        outcome = "cancelled"
    except SyncTimeoutError:
        outcome = "timeout"
    expected = (terminal or "timeout").lower()
    if expected == "timeout":
        # Never terminal: the deadline cancels the job, and the fake confirms the cancel.
        assert outcome == "timeout"
    else:
        assert outcome == expected
    assert fake.calls.count("create_job") == 0


def test_failed_reports_airbytes_failure_reason(fake, ledger, clock, emitter):
    fake.add_job(
        CONN,
        script=[("running", 5), ("failed", None)],
        failure_reason="Source: invalid password for user 'crm'",
    )
    runner = SyncRunner(fake, ledger, clock=clock, emitter=emitter)
    with pytest.raises(SyncFailedError, match="invalid password") as info:
        runner.run(CONN, "rk")
    assert info.value.connection_id == CONN
    assert info.value.job_id is not None and str(info.value.job_id) in str(info.value)
    (entry,) = ledger.entries()
    assert entry.finished and entry.status == "failed"
    assert "sync.failed" in emitter.names()


def test_failed_reason_from_last_attempt_when_no_job_level_reason(fake, ledger, clock):
    fake.add_job(
        CONN,
        script=[("running", 5), ("failed", None)],
        attempts=(
            AttemptInfo(
                number=0,
                status="failed",
                failure_message="timeout reading",
                failure_origin="source",
            ),
            AttemptInfo(
                number=1, status="failed", failure_message="disk full", failure_origin="destination"
            ),
        ),
    )
    with pytest.raises(SyncFailedError, match=r"disk full \(destination\)"):
        SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")


def test_failed_without_details_still_raises(clock, ledger):
    fake = FakeAirbyte(clock, details_available=False)
    fake.add_job(CONN, script=[("running", 5), ("failed", None)])
    with pytest.raises(SyncFailedError, match="no failure reason"):
        SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")


def test_cancelled_in_airbyte_raises_and_records(fake, ledger, clock):
    fake.add_job(CONN, script=[("running", 5), ("cancelled", None)])
    emitter = ListEmitter()
    with pytest.raises(SyncCancelledError):
        SyncRunner(fake, ledger, clock=clock, emitter=emitter).run(CONN, "rk")
    assert ledger.entries()[0].status == "cancelled"
    assert "sync.cancelled" in emitter.names()


def test_wait_on_a_bare_job_without_run_key_leaves_the_ledger_alone(fake, ledger, clock):
    fj = fake.add_job(CONN, script=[("running", 5), ("succeeded", None)])
    runner = SyncRunner(fake, ledger, clock=clock)
    result = runner.wait(fake.get_job(fj.job_id))
    assert result.status is JobStatus.SUCCEEDED and result.run_key == ""
    assert ledger.entries() == []


def test_uncertain_create_with_listing_down_never_posts_twice(clock, ledger):
    fake = FakeAirbyte(clock, list_error_rate=1.0)
    # the very first listing must work so the runner gets as far as creating
    original = fake.list_jobs
    calls = {"n": 0}

    def list_jobs(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            fake.list_error_rate = 0.0
            try:
                return original(*args, **kwargs)
            finally:
                fake.list_error_rate = 1.0
        return original(*args, **kwargs)

    fake.list_jobs = list_jobs  # type: ignore[method-assign]
    fake.create_faults = ["drop_before_create"]
    with pytest.raises(JobCreateUncertainError):
        SyncRunner(fake, ledger, clock=clock, settings=SyncSettings(confirm_window=10)).run(
            CONN, "rk"
        )
    assert fake.calls.count("create_job") == 1
