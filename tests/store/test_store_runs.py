"""Runs, steps, stream stats, checks and events: round trips on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store import (
    RunDetail,
    StepRecord,
    Store,
    summarize_argv,
)

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class FakeStreamStats:
    """Shaped like luigi_airbyte.airbyte.models.StreamStats (the store may not import it)."""

    name: str
    namespace: str | None = None
    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    records_rejected: int = 0


def _full_run(store: Store) -> str:
    run_id = store.start_run(
        "nightly", date(2024, 5, 1), started_at=T0, host="ci-1", scheduler="local"
    )
    store.upsert_step(run_id, "crm", kind="sync", status="running", started_at=T0, owner="data")
    store.upsert_step(
        run_id, "crm", status="succeeded", finished_at=T0 + timedelta(seconds=90), job_id=11
    )
    store.upsert_step(run_id, "crm", rows=150)
    store.add_stream_stats(
        run_id,
        "crm",
        11,
        [
            {"stream": "users", "namespace": "public", "records_committed": 100},
            FakeStreamStats("orders", records_committed=50, bytes_committed=5000),
        ],
    )
    store.upsert_step(run_id, "crm:drift", kind="check", status="succeeded")
    store.add_check_result(
        run_id, "crm:drift", "drift", True, severity="error", details={"added": []}, at=T0
    )
    store.upsert_step(run_id, "dbt", kind="dbt", status="failed", message="model orders failed")
    store.finish_run(run_id, "failed", 7, finished_at=T0 + timedelta(minutes=5), message="dbt")
    return run_id


def test_run_round_trip(store: Store) -> None:
    run_id = _full_run(store)
    detail = store.get_run(run_id)
    assert isinstance(detail, RunDetail)
    run = detail.run
    assert (run.pipeline, run.run_date, run.status, run.exit_code) == (
        "nightly",
        date(2024, 5, 1),
        "failed",
        7,
    )
    assert (run.host, run.scheduler, run.message) == ("ci-1", "local", "dbt")
    assert run.started_at == T0 and run.duration_s == 300.0
    assert run.step_counts == {"succeeded": 2, "failed": 1}

    assert [s.step_name for s in detail.steps] == ["crm", "crm:drift", "dbt"]  # insertion order
    crm = detail.step("crm")
    assert crm == StepRecord(
        run_id=run_id,
        step_name="crm",
        kind="sync",
        status="succeeded",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=90),
        duration_s=90.0,
        job_id=11,
        rows=150,
        message=None,
        owner="data",
    )
    streams = {s.stream: s for s in detail.streams_for("crm")}
    assert streams["users"].namespace == "public" and streams["users"].records_committed == 100
    assert streams["orders"].bytes_committed == 5000 and streams["orders"].job_id == 11
    (check,) = detail.checks_for("crm:drift")
    assert check.passed and check.check == "drift" and check.details == {"added": []}
    assert check.at == T0


def test_results_are_frozen(store: Store) -> None:
    detail = store.get_run(_full_run(store))
    with pytest.raises(dataclasses.FrozenInstanceError):
        detail.run.status = "succeeded"  # type: ignore[misc]


def test_get_run_by_prefix_and_unknown(store: Store) -> None:
    run_id = _full_run(store)
    assert store.get_run(run_id[:8]).run.run_id == run_id
    with pytest.raises(StoreError, match="no run"):
        store.get_run("00000000-0000-0000-0000-000000000000")
    with pytest.raises(StoreError, match="no run"):
        store.get_run("%")  # never a LIKE wildcard


def test_history_newest_first_and_filtered(store: Store) -> None:
    ids = [
        store.start_run(pipeline, started_at=T0 + timedelta(hours=n))
        for n, pipeline in enumerate(["a", "b", "a", "a"])
    ]
    store.upsert_step(ids[3], "s", kind="command", status="running")
    history = store.history()
    assert [r.run_id for r in history] == list(reversed(ids))
    assert history[0].step_counts == {"running": 1}
    assert [r.run_id for r in store.history("a", limit=2)] == [ids[3], ids[2]]
    assert store.history("zzz") == []


def test_latest_run(store: Store) -> None:
    assert store.latest_run("nightly") is None
    first = store.start_run("nightly", started_at=T0)
    second = store.start_run("nightly", started_at=T0 + timedelta(days=1))
    store.start_run("other", started_at=T0 + timedelta(days=2))
    latest = store.latest_run("nightly")
    assert latest is not None and latest.run.run_id == second != first
    any_latest = store.latest_run()
    assert any_latest is not None and any_latest.run.pipeline == "other"


def test_start_run_with_existing_id_resumes_it(store: Store) -> None:
    run_id = store.start_run("p", started_at=T0)
    store.finish_run(run_id, "failed", 5)
    assert store.start_run("p", run_id=run_id) == run_id
    run = store.get_run(run_id).run
    assert (run.status, run.exit_code, run.finished_at, run.started_at) == (
        "running",
        None,
        None,
        T0,
    )


def test_finish_unknown_run_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no run nope"):
        store.finish_run("nope", "succeeded", 0)


def test_upsert_step_rules(store: Store) -> None:
    run_id = store.start_run("p")
    with pytest.raises(ValueError, match="needs kind"):
        store.upsert_step(run_id, "s", status="running")
    with pytest.raises(ValueError, match="kind 'bogus'"):
        store.upsert_step(run_id, "s", kind="bogus")
    with pytest.raises(ValueError, match="status 'done'"):
        store.upsert_step(run_id, "s", kind="sync", status="done")
    with pytest.raises(StoreError, match="no run"):
        store.upsert_step("missing-run", "s", kind="sync")
    created = store.upsert_step(run_id, "s", kind="sync")
    assert created.status == "pending"
    # Explicit None clears a field; omitted fields are kept.
    store.upsert_step(run_id, "s", message="x", job_id=3)
    cleared = store.upsert_step(run_id, "s", message=None)
    assert cleared.message is None and cleared.job_id == 3
    # An explicit duration wins over the computed one.
    timed = store.upsert_step(
        run_id, "s", started_at=T0, finished_at=T0 + timedelta(seconds=10), duration_s=7.5
    )
    assert timed.duration_s == 7.5
    assert store.upsert_step(run_id, "s", rows=1).duration_s == 7.5  # kept
    later = store.upsert_step(run_id, "s", finished_at=T0 + timedelta(seconds=20))
    assert later.duration_s == 20.0  # a new finish time recomputes it


def test_every_step_status_and_kind_is_accepted(store: Store) -> None:
    from luigi_airbyte.store import STEP_KINDS, STEP_STATUSES

    run_id = store.start_run("p")
    for i, status in enumerate(STEP_STATUSES):
        store.upsert_step(run_id, f"s{i}", kind=STEP_KINDS[i % len(STEP_KINDS)], status=status)
    assert {s.status for s in store.get_run(run_id).steps} == set(STEP_STATUSES)


def test_stream_stats_replace_per_job(store: Store) -> None:
    run_id = store.start_run("p")
    store.upsert_step(run_id, "crm", kind="sync")
    store.add_stream_stats(run_id, "crm", 1, [{"name": "a", "recordsCommitted": 1}])
    store.add_stream_stats(run_id, "crm", 2, [{"name": "a", "recordsCommitted": 2}])
    # A retried step records job 2 again: replaced, not doubled.
    n = store.add_stream_stats(
        run_id,
        "crm",
        2,
        [{"streamName": "a", "recordsCommitted": 3}, {"stream": "b", "records_committed": 4}],
    )
    assert n == 2
    got = sorted(
        (s.job_id, s.stream, s.records_committed) for s in store.get_run(run_id).stream_stats
    )
    assert got == [(1, "a", 1), (2, "a", 3), (2, "b", 4)]
    with pytest.raises(ValueError, match="stream name"):
        store.add_stream_stats(run_id, "crm", 3, [{"records_committed": 1}])


def test_events_round_trip_and_odd_values(store: Store) -> None:
    run_id = store.start_run("p")
    store.add_event(run_id, "sync.triggered", fields={"job_id": 5}, at=T0)
    store.add_event(
        run_id,
        "sync.progress",
        level="warning",
        fields={"when": T0, "tags": {"x"}, "obj": object.__name__},
        at=T0 + timedelta(seconds=1),
    )

    @dataclasses.dataclass
    class LikeObserveEvent:
        name: str
        fields: dict[str, object]
        at: datetime
        level: str = "info"

    assert store.add_events(run_id, [LikeObserveEvent("step.failed", {"step": "dbt"}, T0)]) == 1
    events = store.events(run_id)
    assert [e.name for e in events] == ["sync.triggered", "step.failed", "sync.progress"]
    assert events[0].fields == {"job_id": 5} and events[0].at == T0
    assert events[2].level == "warning"
    assert events[2].fields["when"] == T0.isoformat() and events[2].fields["tags"] == ["x"]
    assert [e.name for e in store.events(run_id, name="step.failed")] == ["step.failed"]
    store.add_event(run_id, "nul", fields={"out": "a\x00b"})  # PostgreSQL json accepts \u0000
    assert store.events(run_id, name="nul")[0].fields == {"out": "a\x00b"}
    assert store.add_events(run_id, []) == 0


def test_timestamps_are_aware_utc_whatever_zone_went_in(store: Store) -> None:
    tokyo = timezone(timedelta(hours=9))
    start = datetime(2024, 5, 1, 11, 0, 0, 123456, tzinfo=tokyo)  # 02:00:00.123456 UTC
    run_id = store.start_run("p", started_at=start)
    step = store.upsert_step(run_id, "s", kind="sync", started_at=start)
    run = store.get_run(run_id).run
    for value in (run.started_at, step.started_at):
        assert value is not None
        assert value == start
        assert value.tzinfo == timezone.utc and value.hour == 2 and value.microsecond == 123456
    with pytest.raises(ValueError, match="no time zone"):
        store.start_run("p", started_at=datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="no time zone"):
        store.upsert_step(run_id, "s", finished_at=datetime(2024, 5, 1))


def test_timestamps_are_stored_as_utc_in_the_database(store: Store) -> None:
    """What another tool (psql, sqlite3, a BI tool) sees: the same UTC instant."""
    plus2 = timezone(timedelta(hours=2))
    run_id = store.start_run("p", started_at=datetime(2024, 5, 1, 4, 30, tzinfo=plus2))
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            raw = conn.execute(sa.text("SELECT started_at FROM runs")).scalar()
            assert raw == "2024-05-01 02:30:00.000000"
        else:
            raw = conn.execute(
                sa.text("SELECT to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI') FROM runs")
            ).scalar()
            assert raw == "02:30"
            data_type = conn.execute(
                sa.text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'runs' AND column_name = 'started_at' "
                    "AND table_schema = current_schema()"
                )
            ).scalar()
            assert data_type == "timestamp with time zone"
    assert store.get_run(run_id).run.started_at == datetime(2024, 5, 1, 2, 30, tzinfo=timezone.utc)


def test_argv_is_stored_without_secrets(store: Store) -> None:
    argv = [
        "luigi-airbyte",
        "run",
        "pipeline.yaml",
        "--client-secret",
        "CANARY-1",
        "--api-token=CANARY-2",
        "--store-url=postgresql://u:CANARY-3@db/x",
        "AIRBYTE_PASSWORD=CANARY-4",
        "--date",
        "2024-05-01",
    ]
    run_id = store.start_run("p", argv=argv)
    stored = store.get_run(run_id).run.argv
    assert stored is not None and "CANARY" not in stored
    assert "pipeline.yaml" in stored and "--date 2024-05-01" in stored


def test_summarize_argv_edge_cases() -> None:
    assert summarize_argv(None) is None
    assert summarize_argv("run 'a b' --token x") == "run 'a b' --token '***'"
    long = summarize_argv(["x" * 5000])
    assert long is not None and len(long) == 1000 and long.endswith("...")


def test_prune_runs_keeps_the_ledger(store: Store) -> None:
    from luigi_airbyte.store import LedgerEntry

    old = store.start_run("p", started_at=T0)
    store.upsert_step(old, "s", kind="sync")
    store.add_event(old, "e")
    store.add_check_result(old, "s", "c", True)
    store.add_stream_stats(old, "s", 1, [{"stream": "a"}])
    new = store.start_run("p", started_at=T0 + timedelta(days=30))
    store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    assert store.prune_runs(T0 + timedelta(days=1)) == 1
    assert [r.run_id for r in store.history()] == [new]
    assert store.events(old) == []
    assert len(store.ledger.entries()) == 1


def test_nul_characters_in_messages_are_stored(store: Store) -> None:
    """dbt/Spark output may carry NUL; PostgreSQL text refuses it, so it is replaced."""
    run_id = store.start_run("p")
    step = store.upsert_step(run_id, "s", kind="dbt", status="failed", message="bad\x00byte")
    assert step.message == "bad\ufffdbyte"
    store.finish_run(run_id, "failed", 7, message="\x00")
    assert store.get_run(run_id).run.message == "\ufffd"


def test_unknown_run_for_stats_and_checks(store: Store) -> None:
    with pytest.raises(StoreError, match="no run"):
        store.add_stream_stats("missing", "s", 1, [{"stream": "a"}])
    with pytest.raises(StoreError, match="no run"):
        store.add_check_result("missing", "s", "c", False)


def test_step_status_and_step_succeeded(store: Store) -> None:
    day = date(2026, 5, 1)
    first = store.start_run("p", day)
    assert store.step_status(first, "load") is None
    store.upsert_step(first, "load", kind="command", status="failed")
    assert store.step_status(first, "load") == "failed"
    assert store.step_succeeded("p", "load", day) is False

    second = store.start_run("p", day)
    store.upsert_step(second, "load", kind="command", status="succeeded")
    assert store.step_succeeded("p", "load", day) is True
    assert store.step_succeeded("p", "load", date(2026, 5, 2)) is False  # another date
    assert store.step_succeeded("other", "load", day) is False  # another pipeline
    assert store.step_succeeded("p", "report", day) is False  # another step


def test_events_of_one_name_and_step(store: Store) -> None:
    """A retry policy reads the jobs one step was given; the step is matched in SQL, so
    a run of many syncs is not read whole for each of them."""
    run_id = store.start_run("p")
    store.add_event(run_id, "sync.job", "info", {"step": "crm", "job_id": 1})
    store.add_event(run_id, "sync.job", "info", {"step": "events", "job_id": 2})
    store.add_event(run_id, "step.started", "info", {"step": "crm"})
    store.add_event(run_id, "sync.job", "info", {"step": "crm", "job_id": 3})

    found = store.events(run_id, name="sync.job", step="crm")

    assert [e.fields["job_id"] for e in found] == [1, 3]
    assert store.events(run_id, name="sync.job", step="nope") == []
