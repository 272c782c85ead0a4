"""Deadlines, stuck jobs and interrupts: what happens to the Airbyte job and the ledger."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sync_fakes import CONN, FakeAirbyte

from luigi_airbyte.errors import SyncTimeoutError
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import (
    FakeClock,
    FixedInterval,
    SyncRunner,
    SyncSettings,
    Terminated,
    handle_termination,
)

FOREVER = [("pending", 1.0), ("running", None)]


def runner_for(fake, ledger, clock, emitter=None, **kw) -> SyncRunner:  # type: ignore[no-untyped-def]
    kw.setdefault("poll_strategy", FixedInterval(5.0))
    return SyncRunner(
        fake, ledger, clock=clock, emitter=emitter or ListEmitter(), settings=SyncSettings(**kw)
    )


def test_deadline_cancels_confirms_and_raises(fake, ledger, clock, emitter):
    fake.script = lambda: FOREVER
    runner = runner_for(fake, ledger, clock, emitter, timeout=600.0, stuck_after=None)
    with pytest.raises(SyncTimeoutError, match="did not finish within 600s; it is now cancelled"):
        runner.run(CONN, "rk")
    (job,) = fake.created_by_post()
    assert fake.cancels == [job.job_id]
    assert fake.status_of(job.job_id).value == "cancelled"
    # Ledger: closed as cancelled, so the next run may start a new job.
    (entry,) = ledger.entries()
    assert entry.finished and entry.status == "cancelled"
    names = emitter.names()
    assert names.index("sync.timeout") < names.index("sync.cancel_requested")
    assert "sync.cancel_confirmed" in names
    # The wait itself stays within the deadline plus the bounded cancel confirmation.
    assert clock.monotonic() <= 600.0 + 120.0 + 5.0


def test_deadline_detach_keeps_the_ledger_open(fake, ledger, clock, emitter):
    fake.script = lambda: FOREVER
    runner = runner_for(fake, ledger, clock, emitter, timeout=300.0, on_timeout="detach")
    with pytest.raises(SyncTimeoutError, match="left running"):
        runner.run(CONN, "rk")
    assert fake.cancels == []
    (entry,) = ledger.entries()
    assert not entry.finished
    assert "sync.detached" in emitter.names()
    # The next run re-attaches to the same job.
    attachment = runner.trigger_or_attach(CONN, "rk")
    assert attachment.how == "ledger" and attachment.job_id == entry.job_id


def test_unconfirmed_cancel_leaves_the_ledger_open(clock, ledger, emitter):
    fake = FakeAirbyte(clock, cancel_takes=False, script=lambda: FOREVER)
    runner = runner_for(fake, ledger, clock, emitter, timeout=60.0, cancel_confirm_timeout=30.0)
    with pytest.raises(SyncTimeoutError, match="cancel was not confirmed"):
        runner.run(CONN, "rk")
    assert not ledger.entries()[0].finished
    assert "sync.cancel_unconfirmed" in emitter.names()


def test_job_that_finishes_while_being_cancelled_is_a_success(clock, ledger):
    # The job's end races the deadline: the cancel arrives too late and the job succeeded.
    fake = FakeAirbyte(clock, script=lambda: [("running", 61.0), ("succeeded", None)], cancel_lag=5)
    runner = runner_for(fake, ledger, clock, timeout=60.0, poll_strategy=FixedInterval(30.0))
    result = runner.run(CONN, "rk")
    assert result.status.value == "succeeded"
    assert ledger.entries()[0].status == "succeeded"


def test_stuck_job_warns_once_and_keeps_waiting(clock, ledger, emitter):
    fake = FakeAirbyte(clock, script=lambda: [("running", 4000.0), ("succeeded", None)])
    runner = runner_for(
        fake, ledger, clock, emitter, stuck_after=1800.0, on_stuck="warn", timeout=None
    )
    result = runner.run(CONN, "rk")
    assert result.status.value == "succeeded"
    assert emitter.names().count("sync.stuck") == 1
    assert fake.cancels == []


def test_progress_in_records_resets_the_stuck_timer(clock, ledger, emitter):
    fake = FakeAirbyte(clock, script=lambda: [("running", 4000.0), ("succeeded", None)])
    fj_holder: dict[str, object] = {}

    def grow(job_id: int, nth: int) -> None:
        job = fake.jobs[job_id]
        job.emitted = nth * 10  # rows keep flowing: not stuck
        fj_holder["job"] = job

    fake.on_get = grow
    runner = runner_for(
        fake, ledger, clock, emitter, stuck_after=1800.0, on_stuck="cancel", details_interval=60.0
    )
    result = runner.run(CONN, "rk")
    assert result.status.value == "succeeded"
    assert "sync.stuck" not in emitter.names()


def test_stuck_job_cancel_mode_cancels_and_raises(clock, ledger, emitter):
    fake = FakeAirbyte(clock, script=lambda: [("running", None)])
    runner = runner_for(fake, ledger, clock, emitter, stuck_after=600.0, on_stuck="cancel")
    with pytest.raises(SyncTimeoutError, match="no progress for"):
        runner.run(CONN, "rk")
    assert len(fake.cancels) == 1
    assert ledger.entries()[0].status == "cancelled"
    assert clock.monotonic() < 600.0 + 120.0 + 10.0


def _interrupt_on_poll(fake: FakeAirbyte, exc: BaseException, at: int = 3) -> None:
    def hook(job_id: int, nth: int) -> None:
        if nth == at:
            raise exc

    fake.on_get = hook


def test_keyboard_interrupt_detach_leaves_job_running_and_ledger_open(fake, ledger, clock):
    fake.script = lambda: FOREVER
    emitter = ListEmitter()
    _interrupt_on_poll(fake, KeyboardInterrupt())
    runner = runner_for(fake, ledger, clock, emitter)
    with pytest.raises(KeyboardInterrupt):
        runner.run(CONN, "rk")
    (entry,) = ledger.entries()
    assert not entry.finished
    assert fake.cancels == []
    assert fake.status_of(entry.job_id).value == "running"
    assert emitter.events[-1].name == "sync.detached"
    assert emitter.events[-1].fields["reason"] == "KeyboardInterrupt"


def test_keyboard_interrupt_cancel_mode_cancels_and_confirms(fake, ledger, clock):
    fake.script = lambda: FOREVER
    _interrupt_on_poll(fake, KeyboardInterrupt())
    runner = runner_for(fake, ledger, clock, on_interrupt="cancel")
    with pytest.raises(KeyboardInterrupt):
        runner.run(CONN, "rk")
    (entry,) = ledger.entries()
    assert fake.cancels == [entry.job_id]
    assert entry.finished and entry.status == "cancelled"


def test_terminated_is_handled_like_ctrl_c(fake, ledger, clock):
    fake.script = lambda: FOREVER
    _interrupt_on_poll(fake, Terminated())
    runner = runner_for(fake, ledger, clock, on_interrupt="cancel")
    with pytest.raises(Terminated):
        runner.run(CONN, "rk")
    assert fake.cancels


def test_real_sigterm_during_wait_detaches(fake, ledger, clock):
    fake.script = lambda: FOREVER

    def hook(job_id: int, nth: int) -> None:
        if nth == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    fake.on_get = hook
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        runner_for(fake, ledger, clock).run(CONN, "rk")
    assert signal.getsignal(signal.SIGTERM) is before
    assert not ledger.entries()[0].finished


def test_handle_termination_restores_and_is_a_noop_off_main_thread():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), handle_termination():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before

    seen: list[object] = []

    def worker() -> None:
        with handle_termination():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [before]


def test_only_the_first_signal_raises_while_the_interrupt_is_handled():
    """Ctrl-C reaches a task process, then Luigi's worker sends it SIGTERM: the SIGTERM
    must not cut the handling of the Ctrl-C short (the detach, the claim's release)."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    handled: list[str] = []
    with pytest.raises(KeyboardInterrupt), handle_termination():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # interrupted at once
        except KeyboardInterrupt:
            with handle_termination():  # a nested block (the wait inside the step)
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGTERM)
                handled.append("released")
            raise
    assert handled == ["released"]
    assert {s: signal.getsignal(s) for s in before} == before
    with pytest.raises(Terminated), handle_termination():  # the next block starts afresh
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_second_ctrl_c_still_stops_at_once():
    with pytest.raises(KeyboardInterrupt) as second, handle_termination():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt as first:
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: already stopping
            os.kill(os.getpid(), signal.SIGINT)  # pressed again: stop now
            time.sleep(5)
            raise AssertionError("the second Ctrl-C was ignored") from first
    assert second.type is KeyboardInterrupt


def test_transient_errors_never_outlive_the_deadline(ledger):
    clock = FakeClock()
    fake = FakeAirbyte(clock, get_error_rate=1.0, script=lambda: FOREVER)
    runner = runner_for(fake, ledger, clock, timeout=900.0, stuck_after=None)
    with pytest.raises(SyncTimeoutError):
        runner.run(CONN, "rk")
    assert clock.monotonic() <= 900.0 + 120.0 + 10.0
    # Backoff: far fewer polls than one per 5 s.
    assert fake.calls.count("get_job") < 900 / 5


def test_fresh_ledger_entry_after_crash_then_timeout_detach(ledger):
    clock = FakeClock()
    fake = FakeAirbyte(clock, script=lambda: FOREVER)
    runner = runner_for(fake, ledger, clock, timeout=100.0, on_timeout="detach")
    for _ in range(3):
        with pytest.raises(SyncTimeoutError):
            runner.run(CONN, "rk")
    assert len(fake.created_by_post()) == 1
    assert len(InMemoryLedger.entries(ledger)) == 1
