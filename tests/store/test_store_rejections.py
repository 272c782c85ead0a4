"""Rejected loads (``run --reload``): the job stops counting, the rejection is kept once,
and the refresh that replaces it becomes the run key's good load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from luigi_airbyte.store import LedgerEntry, SqlLedger, Store
from luigi_airbyte.store.ledger import REJECTED, Rejection, refresh_run_key

T0 = datetime(2026, 2, 3, 2, 0, tzinfo=timezone.utc)
KEY = "sync:conn:2026-02-03"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(
    request: pytest.FixtureRequest, new_database: Callable[[str], str]
) -> Iterator[SqlLedger]:
    store = Store(new_database(request.param)).open()
    try:
        yield store.ledger
    finally:
        store.close()


def _succeeded(ledger: SqlLedger, key: str, job: int) -> None:
    ledger.record_job(LedgerEntry(run_key=key, connection_id="conn", job_id=job, created_at=T0))
    ledger.record_outcome(
        key, job, status="succeeded", rows_committed=5, bytes_committed=50, finished_at=T0
    )


def _rejection(job: int, **kw: object) -> Rejection:
    values: dict[str, object] = {
        "run_key": KEY,
        "connection_id": "conn",
        "job_id": job,
        "rejected_at": T0 + timedelta(hours=1),
        "streams": ("orders",),
        "reason": "duplicates:orders: 150 duplicate rows",
        "rejected_by": "client ops",
        "pipeline": "demo",
        "step": "crm",
        "run_id": "r2",
    }
    values.update(kw)
    return Rejection(**values)  # type: ignore[arg-type]


def test_a_rejected_job_no_longer_completes_its_run_key(ledger: SqlLedger) -> None:
    _succeeded(ledger, KEY, 2)
    _succeeded(ledger, "sync:conn:other-key", 2)  # the same job under another run key
    assert ledger.rejected_keys() == (frozenset(), frozenset())

    kept = ledger.reject(_rejection(2))

    assert ledger.last_succeeded(KEY) is None
    assert ledger.last_succeeded("sync:conn:other-key") is None  # a bad load is bad anywhere
    assert {e.status for e in ledger.entries()} == {REJECTED}
    assert kept.streams == ("orders",) and kept.rejected_by == "client ops"
    assert kept.refresh_key == refresh_run_key("conn", 2) == "refresh:conn:2"
    assert ledger.last_rejection(KEY) == kept
    assert ledger.rejection_of("conn", 2) == kept
    assert ledger.rejected_job_ids("conn") == {2}
    assert ledger.rejected_job_ids("another") == set()
    assert ledger.rejected_keys() == (frozenset({KEY}), frozenset({"conn"}))


def test_rejecting_again_keeps_the_first_record(ledger: SqlLedger) -> None:
    _succeeded(ledger, KEY, 2)
    first = ledger.reject(_rejection(2))

    again = ledger.reject(_rejection(2, reason="other words", run_id="r3"))

    assert again == first
    assert ledger.last_rejection(KEY) == first


def test_the_refresh_becomes_the_good_load(ledger: SqlLedger) -> None:
    _succeeded(ledger, KEY, 2)
    ledger.reject(_rejection(2))

    _succeeded(ledger, KEY, 3)  # what app.reload.record_refresh writes

    good = ledger.last_succeeded(KEY)
    assert good is not None and good.job_id == 3
    assert ledger.rejected_job_ids("conn") == {2}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_run_that_loaded_it_shows_the_rejection(
    new_database: Callable[[str], str], backend: str
) -> None:
    store = Store(new_database(backend)).open()
    try:
        run_id = store.start_run("demo", T0.date())
        store.upsert_step(run_id, "crm", kind="sync", status="succeeded", job_id=2, message="ok")
        store.upsert_step(run_id, "events", kind="sync", status="succeeded", job_id=1)
        _succeeded(store.ledger, KEY, 2)

        store.ledger.reject(_rejection(2))
        store.ledger.reject(_rejection(2))  # noted once

        detail = store.get_run(run_id)
        crm, events = detail.step("crm"), detail.step("events")
        assert crm is not None and events is not None
        assert crm.message is not None
        assert crm.message.startswith("ok [load rejected: 2026-02-03T03:00:00+00:00 by client ops")
        assert crm.message.count("[load rejected") == 1
        assert "refresh:conn:2" in crm.message
        assert events.message is None or "rejected" not in events.message
    finally:
        store.close()
