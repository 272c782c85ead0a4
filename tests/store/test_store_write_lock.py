"""A writer waiting for SQLite's write lock waits in short steps of its own, not in
SQLite's busy handler (sleeps up to 100 ms a try): it takes the lock soon after the
holder's commit, and the busy timeout still bounds the wait (``store/engine.py``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from luigi_airbyte.store import LedgerEntry, Store
from luigi_airbyte.store import engine as store_engine

_SLEEP = time.sleep  # the holder's, before a test records the store's sleeps


def _hold_lock(path: Path, seconds: float, taken: threading.Event) -> threading.Thread:
    def hold() -> None:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        taken.set()
        _SLEEP(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_a_waiting_writer_tries_again_every_few_ms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    store = Store(f"sqlite:///{path}").open()
    pauses: list[float] = []

    def recorded_sleep(seconds: float) -> None:
        pauses.append(seconds)
        _SLEEP(seconds)

    monkeypatch.setattr(store_engine.time, "sleep", recorded_sleep)
    taken = threading.Event()
    holder = _hold_lock(path, 0.15, taken)
    assert taken.wait(5)
    store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    holder.join()
    # The wait was ours (SQLite's handler would have slept inside one statement), in
    # steps of at most 2 ms, so the lock was taken within 2 ms of the holder's commit.
    assert sum(pauses) >= 0.1
    assert max(pauses) <= 0.002
    assert store.ledger.find_open("k") is not None
    store.close()


def test_the_busy_timeout_is_back_after_a_contended_begin(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store(f"sqlite:///{path}").open()
    taken = threading.Event()
    holder = _hold_lock(path, 0.05, taken)
    assert taken.wait(5)
    store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    holder.join()
    with store.engine.connect() as conn:  # the pool's one connection, used above
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    store.close()


def test_a_held_lock_still_fails_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store(f"sqlite:///{path}", busy_timeout_s=0.2).open()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        with pytest.raises(Exception, match="locked"):
            store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
        assert time.monotonic() - started < 5  # bounded by the timeout, not unbounded
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.close()
