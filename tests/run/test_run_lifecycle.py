"""Runs close, even when killed: heartbeat, holder checks, abandoned runs and steps."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from luigi_airbyte.app import run_record
from luigi_airbyte.app.run_record import hostname, open_run, reap_abandoned
from luigi_airbyte.app.run_service import GraphOutcome, counts_line, exit_code_for
from luigi_airbyte.store import RunDetail, RunSummary, StepRecord, Store, utcnow


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(state_dir=tmp_path / "state").open()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _start(store: Store, **kwargs: object) -> str:
    run_id = store.start_run("nightly", host=hostname(), **kwargs)  # type: ignore[arg-type]
    store.upsert_step(run_id, "crm", kind="sync", status="succeeded")
    store.upsert_step(run_id, "users_loaded", kind="check", status="running")
    return run_id


def test_a_run_whose_process_died_is_abandoned_with_its_running_step(store: Store) -> None:
    settled: list[str] = []
    run_id = _start(store, pid=_dead_pid(), pid_started_at=1.0)
    original = run_record.settle_claims_of
    run_record.settle_claims_of = lambda s, rid, settle: settled.append(rid) or 0  # type: ignore[assignment]
    try:
        assert reap_abandoned(store) == [run_id]
    finally:
        run_record.settle_claims_of = original

    detail = store.get_run(run_id)
    assert detail.run.status == "abandoned" and detail.run.finished_at is not None
    assert "is gone" in (detail.run.message or "")
    steps = {s.step_name: s for s in detail.steps}
    assert steps["users_loaded"].status == "abandoned"
    assert steps["users_loaded"].finished_at is not None
    assert steps["crm"].status == "succeeded"  # finished work is kept
    assert settled == [run_id]  # the ledger claims it held are settled
    assert reap_abandoned(store) == []  # closed once


def test_a_reused_pid_does_not_keep_a_run_alive(store: Store) -> None:
    run_id = _start(store, pid=os.getpid(), pid_started_at=12345.0)  # not our start time
    assert reap_abandoned(store) == [run_id]
    assert "names another process" in (store.get_run(run_id).run.message or "")


def test_a_live_holder_keeps_its_run(store: Store) -> None:
    me = run_record.this_process()
    run_id = _start(store, pid=me.pid, pid_started_at=me.started_at)
    assert reap_abandoned(store) == []
    assert store.get_run(run_id).run.status == "running"


def test_a_stale_heartbeat_from_another_host_is_abandoned(store: Store) -> None:
    run_id = store.start_run("nightly", host="elsewhere", pid=1, pid_started_at=1.0)
    now = utcnow()
    assert reap_abandoned(store, now=now + timedelta(seconds=30)) == []  # within the lease
    closed = reap_abandoned(store, now=now + timedelta(seconds=61))
    assert closed == [run_id]
    assert "no heartbeat for 61s" in (store.get_run(run_id).run.message or "")


def test_the_heartbeat_renews_and_finish_closes_running_steps(store: Store) -> None:
    handle = open_run(store, "nightly", None, heartbeat_s=0.05)
    first = store.get_run(handle.run_id).run.heartbeat_at
    assert first is not None
    time.sleep(0.3)
    later = store.get_run(handle.run_id).run.heartbeat_at
    assert later is not None and later > first
    run = store.get_run(handle.run_id).run
    assert (run.host, run.pid) == (hostname(), os.getpid())
    store.upsert_step(handle.run_id, "worker_died", kind="sync", status="running")

    handle.finish("failed", 5)

    detail = store.get_run(handle.run_id)
    assert detail.run.status == "failed"
    assert detail.steps[0].status == "abandoned"


def test_a_store_replaced_under_the_run_is_never_finished_as_succeeded(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = Store(state_dir=state).open()
    handle = open_run(store, "nightly", None, heartbeat_s=0.05)
    os.rename(state, tmp_path / "moved")
    state.mkdir()
    time.sleep(0.3)
    assert handle.lost is not None and "deleted or replaced" in handle.lost
    with pytest.raises(Exception, match="deleted or replaced"):
        handle.finish("succeeded", 0)
    store.unpin()
    moved = Store(state_dir=tmp_path / "moved").open()
    assert moved.get_run(handle.run_id).run.status == "running"  # the next run reaps it


def test_exit_code_comes_from_the_step_column() -> None:
    run = RunSummary("r", "p", None, "running", utcnow())
    steps = (
        StepRecord("r", "crm", "sync", "failed", exit_code=5),
        StepRecord("r", "users_loaded", "check", "failed", exit_code=6),
        StepRecord("r", "report", "command", "upstream_failed"),
        StepRecord("r", "events", "sync", "succeeded"),
    )
    detail = RunDetail(run=run, steps=steps)
    assert exit_code_for(detail, GraphOutcome("FAILED", False)) == 5
    assert counts_line(steps, 5) == "PASS=1 FAIL=2 SKIPPED=1 (exit 5)"


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord("luigi-interface", logging.ERROR, "w.py", 1, "failed", (), info)


def test_luigi_is_quiet_about_expected_failures_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from luigi_airbyte.errors import SyncFailedError
    from luigi_airbyte.tasks.build import _ExpectedFailureFilter

    quiet = _ExpectedFailureFilter()
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.WARNING)
    assert quiet.filter(_record(SyncFailedError("job 3 failed"))) is False
    assert quiet.filter(_record(KeyError("bug"))) is True  # exit 1 keeps its traceback
    warning = logging.LogRecord(
        "luigi-interface",
        logging.WARNING,
        "w.py",
        1,
        "Will not run T or any dependencies due to error in complete() method:\n"
        "Traceback (most recent call last):\n  File x\n"
        "luigi_airbyte.errors.StoreError: metadata store sqlite:///m.db: could not read",
        (),
        None,
    )
    assert quiet.filter(warning) is True
    assert warning.getMessage() == (
        "Will not run T or any dependencies due to error in complete() method: "
        "metadata store sqlite:///m.db: could not read"
    )
    monkeypatch.setattr(root, "level", logging.INFO)  # -v: Luigi's full account
    assert quiet.filter(_record(SyncFailedError("job 3 failed"))) is True


def test_the_claims_an_abandoned_run_held_are_settled_one_by_one(store: Store) -> None:
    from luigi_airbyte.errors import AirbyteError
    from luigi_airbyte.store.ledger import Holder

    run_id = _start(store, pid=_dead_pid(), pid_started_at=1.0)
    dead = Holder(token="t", run_id=run_id, host=hostname(), pid=_dead_pid(), pid_started=1.0)
    other = Holder(
        token="u", run_id="other-run", host=hostname(), pid=os.getpid(), pid_started=None
    )
    for key in ("sync:a:2026-12-05", "sync:b:2026-12-05"):
        assert store.ledger.claim(key, "conn", "sync", dead).outcome == "acquired"
    store.ledger.claim("sync:c:2026-12-05", "conn", "sync", other)

    asked: list[str] = []

    def settle(run_key: str) -> None:
        asked.append(run_key)
        if run_key.startswith("sync:b"):
            raise AirbyteError("Airbyte is down")

    assert reap_abandoned(store, settle=settle) == [run_id]
    assert asked == ["sync:a:2026-12-05", "sync:b:2026-12-05"]  # only the dead run's claims
    # without a way to reach Airbyte (history, show) nothing is contacted
    assert run_record.settle_claims_of(store, run_id, None) == 0
