"""The Ledger protocol: the same semantics from InMemoryLedger and SqlLedger (both backends)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from luigi_airbyte.store import InMemoryLedger, Ledger, LedgerEntry, SqlLedger, Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def ledger(request: pytest.FixtureRequest, new_database: Callable[[str], str]) -> Iterator[Ledger]:
    """Every implementation of the protocol: in memory, SQLite, PostgreSQL."""
    if request.param == "memory":
        yield InMemoryLedger()
        return
    store = Store(new_database(request.param)).open()
    try:
        yield store.ledger
    finally:
        store.close()


def _outcome(ledger: Ledger, key: str, job: int, status: str = "succeeded", **kw: object) -> None:
    ledger.record_outcome(
        key,
        job,
        status=status,
        rows_committed=kw.get("rows", 10),  # type: ignore[arg-type]
        bytes_committed=kw.get("bytes", 100),  # type: ignore[arg-type]
        finished_at=kw.get("at", T0),  # type: ignore[arg-type]
    )


def test_empty_ledger_finds_nothing(ledger: Ledger) -> None:
    assert ledger.find_open("k") is None
    assert ledger.last_succeeded("k") is None


def test_recorded_job_is_open_until_its_outcome(ledger: Ledger) -> None:
    entry = LedgerEntry(run_key="k", connection_id="c", job_id=7, created_at=T0)
    ledger.record_job(entry)
    assert ledger.find_open("k") == entry
    assert ledger.last_succeeded("k") is None

    _outcome(ledger, "k", 7, rows=42, bytes=4200, at=T0 + timedelta(minutes=5))
    assert ledger.find_open("k") is None
    done = ledger.last_succeeded("k")
    assert done is not None
    assert (done.job_id, done.status, done.finished) == (7, "succeeded", True)
    assert (done.rows_committed, done.bytes_committed) == (42, 4200)
    assert done.finished_at == T0 + timedelta(minutes=5)
    assert done.created_at == T0


def test_failed_job_is_not_a_success(ledger: Ledger) -> None:
    ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    _outcome(ledger, "k", 1, status="failed")
    assert ledger.find_open("k") is None
    assert ledger.last_succeeded("k") is None


def test_newest_entries_win(ledger: Ledger) -> None:
    for job in (1, 2, 3):
        ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=job))
    _outcome(ledger, "k", 1)
    _outcome(ledger, "k", 2)
    assert ledger.find_open("k") == LedgerEntry(run_key="k", connection_id="c", job_id=3)
    last = ledger.last_succeeded("k")
    assert last is not None and last.job_id == 2


def test_run_keys_are_independent(ledger: Ledger) -> None:
    ledger.record_job(LedgerEntry(run_key="a", connection_id="c", job_id=1))
    ledger.record_job(LedgerEntry(run_key="b", connection_id="c", job_id=2))
    _outcome(ledger, "a", 1)
    assert ledger.find_open("a") is None
    open_b = ledger.find_open("b")
    assert open_b is not None and open_b.job_id == 2
    assert ledger.last_succeeded("b") is None


def test_record_job_is_idempotent_and_keeps_the_first_row(ledger: Ledger) -> None:
    first = LedgerEntry(run_key="k", connection_id="c", job_id=5, attached=False)
    ledger.record_job(first)
    ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=5, attached=True))
    assert ledger.find_open("k") == first
    _outcome(ledger, "k", 5)
    ledger.record_job(first)  # a retry re-recording after the outcome must not reopen it
    assert ledger.find_open("k") is None


def test_same_job_under_two_run_keys(ledger: Ledger) -> None:
    ledger.record_job(LedgerEntry(run_key="a", connection_id="c", job_id=9))
    ledger.record_job(LedgerEntry(run_key="b", connection_id="c", job_id=9, attached=True))
    a, b = ledger.find_open("a"), ledger.find_open("b")
    assert a is not None and b is not None and b.attached and not a.attached


def test_outcome_of_unknown_job_is_ignored(ledger: Ledger) -> None:
    _outcome(ledger, "nope", 1)
    assert ledger.last_succeeded("nope") is None


def test_outcome_can_be_rewritten(ledger: Ledger) -> None:
    ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    _outcome(ledger, "k", 1, status="failed")
    _outcome(ledger, "k", 1, status="succeeded", rows=3)
    last = ledger.last_succeeded("k")
    assert last is not None and last.rows_committed == 3


def test_all_fields_round_trip(ledger: Ledger) -> None:
    entry = LedgerEntry(
        run_key="nightly:crm:2024-05-01",
        connection_id="9f0c7b2e-1234-4abc-8def-000000000001",
        job_id=2**40,  # Airbyte job ids are 64-bit
        job_type="refresh",
        attached=True,
        status="running",
        finished=False,
        rows_committed=None,
        bytes_committed=None,
        created_at=T0,
        finished_at=None,
    )
    ledger.record_job(entry)
    assert ledger.find_open(entry.run_key) == entry


def test_aware_non_utc_times_come_back_as_utc(ledger: Ledger) -> None:
    cest = timezone(timedelta(hours=2))
    created = datetime(2024, 5, 1, 14, 0, tzinfo=cest)
    ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1, created_at=created))
    found = ledger.find_open("k")
    assert found is not None and found.created_at == created
    if isinstance(ledger, SqlLedger):
        assert found.created_at is not None and found.created_at.tzinfo == timezone.utc


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        store.ledger.record_job(
            LedgerEntry(run_key="k", connection_id="c", job_id=1, created_at=datetime(2024, 1, 1))
        )


# --- SqlLedger extras ---------------------------------------------------------------------


def test_last_succeeded_for_connection_uses_finish_time(store: Store) -> None:
    ledger = store.ledger
    for key, job, minutes in (("a", 1, 30), ("b", 2, 10), ("c", 3, 20)):
        ledger.record_job(LedgerEntry(run_key=key, connection_id="conn", job_id=job))
        _outcome(ledger, key, job, at=T0 + timedelta(minutes=minutes))
    ledger.record_job(LedgerEntry(run_key="d", connection_id="conn", job_id=4))
    _outcome(ledger, "d", 4, status="failed", at=T0 + timedelta(hours=5))
    ledger.record_job(LedgerEntry(run_key="e", connection_id="other", job_id=5))
    _outcome(ledger, "e", 5, at=T0 + timedelta(hours=6))

    last = ledger.last_succeeded_for_connection("conn")
    assert last is not None and last.job_id == 1
    assert ledger.last_succeeded_for_connection("missing") is None


def test_recent_for_connection_newest_first(store: Store) -> None:
    ledger = store.ledger
    for job in range(1, 6):
        ledger.record_job(LedgerEntry(run_key=f"k{job}", connection_id="conn", job_id=job))
    ledger.record_job(LedgerEntry(run_key="x", connection_id="other", job_id=99))
    assert [e.job_id for e in ledger.recent_for_connection("conn", limit=3)] == [5, 4, 3]
    assert len(ledger.recent_for_connection("conn")) == 5
    assert [e.job_id for e in ledger.entries()] == [1, 2, 3, 4, 5, 99]


def test_ledger_survives_reopening(store_url: str) -> None:
    with Store(store_url) as first:
        first.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    with Store(store_url) as second:
        found = second.ledger.find_open("k")
    assert found is not None and found.job_id == 1


def test_threads_with_separate_engines_record_the_same_jobs(store_url: str) -> None:
    """Eight stores (eight engines) record the same 20 jobs at once: 20 rows, no error."""
    Store(store_url).open().close()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        s = Store(store_url)
        try:
            barrier.wait()
            for job in range(20):
                s.ledger.record_job(LedgerEntry(run_key=f"k{job}", connection_id="c", job_id=job))
        except BaseException as exc:
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with Store(store_url) as s:
        assert sorted(e.job_id for e in s.ledger.entries()) == list(range(20))


def test_one_store_shared_by_threads(store: Store) -> None:
    def work(n: int) -> None:
        for job in range(10):
            store.ledger.record_job(LedgerEntry(run_key=f"t{n}", connection_id="c", job_id=job))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(store.ledger.entries()) == 40
