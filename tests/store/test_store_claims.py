"""The claim on a run key (the ledger is a lock): the same rules on SQLite, PostgreSQL and
in memory. Process-level races are in tests/integration/test_claim_race.py."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from luigi_airbyte.store import InMemoryLedger, LedgerEntry, Store
from luigi_airbyte.store.ledger import ClaimLostError, Holder, Ledger

KEY = "conn-1/2026-01-15"
CONN = "conn-1"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, new_database: Callable[[str], str]) -> Iterator[Ledger]:
    if request.param == "memory":
        yield InMemoryLedger()
        return
    store = Store(new_database(request.param)).open()
    try:
        yield store.ledger
    finally:
        store.close()


def _dead_pid() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid, time.time() - 5


def _entry(job_id: int, **kw: object) -> LedgerEntry:
    return LedgerEntry(run_key=KEY, connection_id=CONN, job_id=job_id, **kw)  # type: ignore[arg-type]


def _finish(ledger: Ledger, job_id: int, status: str) -> None:
    ledger.record_outcome(
        KEY,
        job_id,
        status=status,
        rows_committed=1,
        bytes_committed=1,
        finished_at=datetime.now(timezone.utc),
    )


def test_one_holder_at_a_time_and_a_live_holder_is_waited_for(ledger: Ledger) -> None:
    a, b = Holder.this_process("run-a"), Holder.this_process("run-b")
    first = ledger.claim(KEY, CONN, "sync", a)
    assert first.outcome == "acquired" and first.claim is not None
    assert first.claim.holder == a and first.claim.lease_until is not None
    second = ledger.claim(KEY, CONN, "sync", b)
    assert second.outcome == "held"
    assert second.claim is not None and second.claim.holder == a
    # Re-entrant for the holder itself, and the claim time is kept.
    again = ledger.claim(KEY, CONN, "sync", a)
    assert again.outcome == "acquired" and again.claim is not None
    assert again.claim.claimed_at == first.claim.claimed_at
    assert [c.run_key for c in ledger.claims_held_by("run-a")] == [KEY]
    assert ledger.claims_held_by("run-b") == []
    ledger.release(KEY, a)
    assert ledger.claims_held_by("run-a") == []
    assert ledger.claim(KEY, CONN, "sync", b).outcome == "acquired"


def test_a_succeeded_run_key_is_complete_for_everyone(ledger: Ledger) -> None:
    a, b = Holder.this_process(), Holder.this_process()
    assert ledger.claim(KEY, CONN, "sync", a).outcome == "acquired"
    ledger.record_job(_entry(7))
    _finish(ledger, 7, "succeeded")
    for who in (a, b):  # even the live holder: the run key is done
        result = ledger.claim(KEY, CONN, "sync", who)
        assert result.outcome == "complete"
        assert result.succeeded is not None and result.succeeded.job_id == 7


def test_a_failed_job_allows_a_new_claim(ledger: Ledger) -> None:
    a, b = Holder.this_process(), Holder.this_process()
    assert ledger.claim(KEY, CONN, "sync", a).outcome == "acquired"
    ledger.record_job(_entry(7))
    _finish(ledger, 7, "failed")
    ledger.release(KEY, a)
    result = ledger.claim(KEY, CONN, "sync", b)
    assert result.outcome == "acquired" and result.previous_gone is None


def test_a_dead_holder_is_taken_over_and_its_intent_survives(ledger: Ledger) -> None:
    pid, started = _dead_pid()
    dead = replace(Holder.this_process("run-dead"), pid=pid, pid_started=started)
    assert ledger.claim(KEY, CONN, "sync", dead).outcome == "acquired"
    ledger.mark_intent(KEY, dead, 41)
    before = ledger.get_claim(KEY)
    assert before is not None and before.intent_at is not None

    new = Holder.this_process("run-new")
    result = ledger.claim(KEY, CONN, "sync", new)
    assert result.outcome == "acquired"
    assert result.previous_gone is not None and str(pid) in result.previous_gone
    assert result.claim is not None
    assert result.claim.intent_at == before.intent_at and result.claim.intent_seen_max == 41
    # The dead holder may not post any more.
    with pytest.raises(ClaimLostError):
        ledger.mark_intent(KEY, dead, 50)
    assert ledger.renew(KEY, dead) is False


def test_a_reused_pid_is_a_dead_holder(ledger: Ledger) -> None:
    me = Holder.this_process()
    impostor = replace(me, token="t-old", pid_started=(me.pid_started or 0) - 3600)
    assert ledger.claim(KEY, CONN, "sync", impostor).outcome == "acquired"
    result = ledger.claim(KEY, CONN, "sync", me)
    assert result.outcome == "acquired"
    assert result.previous_gone is not None and "another process" in result.previous_gone


def test_a_holder_on_another_host_lives_by_its_lease(ledger: Ledger) -> None:
    remote = replace(Holder.this_process(), host="elsewhere.example", pid=1)
    assert ledger.claim(KEY, CONN, "sync", remote, lease_s=0.3).outcome == "acquired"
    me = Holder.this_process()
    assert ledger.claim(KEY, CONN, "sync", me).outcome == "held"
    time.sleep(0.5)
    result = ledger.claim(KEY, CONN, "sync", me)
    assert result.outcome == "acquired"
    assert result.previous_gone is not None and "lease expired" in result.previous_gone


def test_renewing_keeps_a_remote_claim_alive(ledger: Ledger) -> None:
    remote = replace(Holder.this_process(), host="elsewhere.example", pid=1)
    assert ledger.claim(KEY, CONN, "sync", remote, lease_s=0.4).outcome == "acquired"
    for _ in range(3):
        time.sleep(0.2)
        assert ledger.renew(KEY, remote, lease_s=0.4)
        assert ledger.claim(KEY, CONN, "sync", Holder.this_process()).outcome == "held"


def test_the_first_intent_is_kept_and_recording_the_job_clears_it(ledger: Ledger) -> None:
    me = Holder.this_process()
    assert ledger.claim(KEY, CONN, "sync", me).outcome == "acquired"
    ledger.mark_intent(KEY, me, 10)
    first = ledger.get_claim(KEY)
    assert first is not None and first.intent_at is not None
    ledger.mark_intent(KEY, me, 12)
    second = ledger.get_claim(KEY)
    assert second is not None
    assert (second.intent_at, second.intent_seen_max) == (first.intent_at, 10)
    ledger.record_job(_entry(13))
    cleared = ledger.get_claim(KEY)
    assert cleared is not None and cleared.intent_at is None and cleared.intent_seen_max is None
    assert cleared.holder == me


def test_a_lost_job_is_settled_with_its_reason(ledger: Ledger) -> None:
    ledger.record_job(_entry(5))
    ledger.record_outcome(
        KEY,
        5,
        status="lost",
        rows_committed=None,
        bytes_committed=None,
        finished_at=datetime.now(timezone.utc) - timedelta(seconds=1),
        reason="409 Job is not currently running",
    )
    assert ledger.find_open(KEY) is None
    entries = ledger.entries()  # type: ignore[attr-defined]
    assert [(e.status, e.reason) for e in entries] == [("lost", "409 Job is not currently running")]
