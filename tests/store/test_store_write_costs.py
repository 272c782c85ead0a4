"""What the run pays per store write: the progress record (step rows, events, stream
stats) commits without waiting for the disk; the ledger, the claims and the run's start
and finish still wait for it; a scheduling pass reads the ledger's successes at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from luigi_airbyte.store import LedgerEntry, Store
from luigi_airbyte.store.ledger import Holder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'meta.db'}").open()
    try:
        yield s
    finally:
        s.close()


def _synchronous(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())


def test_a_relaxed_write_skips_the_fsync_and_the_connection_goes_back_to_full(
    store: Store,
) -> None:
    with store.begin("relaxed", durable=False) as conn:
        assert _synchronous(conn) == 1  # NORMAL: WAL commit without fsync
    with store.begin("durable") as conn:
        assert _synchronous(conn) == 2  # FULL again on the pooled connection
    with pytest.raises(RuntimeError), store.begin("relaxed, then an error", durable=False):
        raise RuntimeError("boom")
    with store.begin("durable after an error") as conn:
        assert _synchronous(conn) == 2


def test_progress_writes_are_relaxed_and_ledger_writes_durable(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, bool]] = []
    real: Callable[..., AbstractContextManager[Connection]] = store.begin

    def spy(action: str, *, durable: bool = True) -> AbstractContextManager[Connection]:
        seen.append((action.split(" ")[0] + " " + action.split(" ")[1], durable))
        return real(action, durable=durable)

    monkeypatch.setattr(store, "begin", spy)
    run_id = store.start_run("p", run_date=T0.date())
    store.upsert_step(run_id, "s", kind="sync", status="running", started_at=T0)
    store.add_event(run_id, "step.started", fields={"step": "s"})
    store.add_stream_stats(run_id, "s", 1, [{"stream": "a", "records_committed": 1}])
    store.add_skipped_steps(run_id, [{"step_name": "t", "kind": "sync", "status": "fresh"}])
    holder = Holder.this_process(run_id)
    store.ledger.claim("rk", "c", "sync", holder)
    store.ledger.mark_intent("rk", holder, None)
    store.ledger.record_job(LedgerEntry(run_key="rk", connection_id="c", job_id=1))
    store.ledger.record_outcome(
        "rk", 1, status="succeeded", rows_committed=1, bytes_committed=1, finished_at=T0
    )
    store.ledger.release("rk", holder)
    store.finish_run(run_id, "succeeded", 0)
    relaxed = sorted({a for a, durable in seen if not durable})
    durable = sorted({a for a, durable in seen if durable})
    assert relaxed == [
        "record 1",  # events, skipped steps
        "record step",
        "record stream",
    ], seen
    assert all(not a.startswith("record step") for a in durable), seen
    assert any(a.startswith("start run") for a in durable), seen
    assert any(a.startswith("finish run") for a in durable), seen
    ledger_writes = [a for a, d in seen if d and not a.startswith(("start", "finish"))]
    assert len(ledger_writes) == 5, seen  # claim, intent, job, outcome, release


def test_last_succeeded_many_answers_like_last_succeeded(store: Store) -> None:
    ledger = store.ledger
    keys = [f"sync:c{i}:2024-05-01" for i in range(1200)]  # more than one IN (...) chunk
    for i, key in enumerate(keys):
        ledger.record_job(LedgerEntry(run_key=key, connection_id=f"c{i}", job_id=2 * i + 1))
        status = "succeeded" if i % 3 else "failed"
        ledger.record_outcome(
            key, 2 * i + 1, status=status, rows_committed=0, bytes_committed=0, finished_at=T0
        )
    # a newer success of one key wins over its older one
    ledger.record_job(LedgerEntry(run_key=keys[1], connection_id="c1", job_id=99_999))
    ledger.record_outcome(
        keys[1], 99_999, status="succeeded", rows_committed=0, bytes_committed=0, finished_at=T0
    )
    asked = [*keys, "sync:nobody:2024-05-01"]
    many = ledger.last_succeeded_many(asked)
    one: dict[str, Any] = {k: e for k in asked if (e := ledger.last_succeeded(k)) is not None}
    assert many == one
    assert many[keys[1]].job_id == 99_999
    assert keys[0] not in many and len(many) == 800


def test_a_step_change_and_its_events_are_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = store.start_run("p", run_date=T0.date())
    seen: list[str] = []
    real: Callable[..., AbstractContextManager[Connection]] = store.begin

    def spy(action: str, *, durable: bool = True) -> AbstractContextManager[Connection]:
        seen.append(action)
        return real(action, durable=durable)

    monkeypatch.setattr(store, "begin", spy)
    event = {"name": "step.started", "fields": {"step": "s"}, "at": T0}
    store.upsert_step(run_id, "s", kind="sync", status="running", events_=[event])
    assert len(seen) == 1, seen
    assert [e.name for e in store.events(run_id)] == ["step.started"]
    assert store.get_run(run_id).step("s").status == "running"


def test_the_store_sink_holds_only_the_holding_threads_events(store: Store) -> None:
    """Another thread's event is written at once, never into the holder's transaction
    (it may belong to another step, or the holder may never write its held events)."""
    import threading

    from luigi_airbyte.app.runtime import StoreEventSink
    from luigi_airbyte.observe.events import Event

    run_id = store.start_run("p", run_date=T0.date())
    sink = StoreEventSink(store)
    held = sink.hold()
    sink.emit(Event("mine", {"run_id": run_id}))
    other = threading.Thread(target=sink.emit, args=(Event("theirs", {"run_id": run_id}),))
    other.start()
    other.join()
    sink.release()
    assert [e.name for e in held] == ["mine"]
    assert [e.name for e in store.events(run_id)] == ["theirs"]
