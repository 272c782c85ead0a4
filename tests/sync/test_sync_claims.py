"""The runner's side of the claim: complete run keys, stale rows, early-returning creates,
and a claim held by another runner (fakes; the process races are in tests/integration)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sync_fakes import CONN, FakeAirbyte, FakeJob, quick_success

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.errors import StateConflictError
from luigi_airbyte.store.ledger import Holder, InMemoryLedger, LedgerEntry
from luigi_airbyte.sync import SyncRunner

KEY = "crm/2026-01-15"


class EarlyReturningAirbyte(FakeAirbyte):
    """Airbyte since mid-2026: a POST while a job is queued answers with that job."""

    def create_job(self, connection_id: str, job_type: JobType = JobType.SYNC) -> Job:
        self.calls.append("create_job")
        queued = [j for j in self.active_jobs(connection_id) if j.job_type is job_type]
        if queued:
            return self._job(queued[0])
        return super().create_job(connection_id, job_type)


def test_a_succeeded_run_key_posts_nothing_for_a_second_runner(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner]
) -> None:
    first = make_runner().run(CONN, KEY)
    assert first.attached_how == "created"
    # The job is done and recorded; a second runner (another process) asks for the key.
    second = make_runner().run(CONN, KEY)
    assert second.job_id == first.job_id and second.attached_how == "ledger"
    assert second.status is JobStatus.SUCCEEDED
    assert len(fake.created_by_post(CONN)) == 1
    assert fake.calls.count("create_job") == 1


def test_a_failed_run_key_gets_its_recovery_job(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner]
) -> None:
    fake.job_defaults = {}
    fake.script = lambda: [("running", 5.0), ("failed", None)]
    runner = make_runner()
    try:
        runner.run(CONN, KEY)
    except Exception:
        pass
    fake.script = lambda: quick_success(5.0)
    result = make_runner().run(CONN, KEY)
    assert result.attached_how == "created"
    assert len(fake.created_by_post(CONN)) == 2
    statuses = [e.status for e in ledger.entries()]
    assert statuses == ["failed", "succeeded"]


def _stale_row(ledger: InMemoryLedger, job_id: int = 42) -> None:
    ledger.record_job(LedgerEntry(run_key=KEY, connection_id=CONN, job_id=job_id))


def test_a_stale_row_answered_409_not_running_is_settled_lost(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner]
) -> None:
    _stale_row(ledger)

    def unknown(job_id: int, nth: int) -> None:
        if job_id == 42:
            raise StateConflictError(
                status_code=409,
                method="GET",
                path="/jobs/42",
                server_message="Job is not currently running",
                problem_type="state-conflict",
            )

    fake.on_get = unknown
    result = make_runner().run(CONN, KEY)
    assert result.attached_how == "created" and result.status is JobStatus.SUCCEEDED
    assert len(fake.created_by_post(CONN)) == 1
    stale = [e for e in ledger.entries() if e.job_id == 42]
    assert [(e.status, e.finished) for e in stale] == [("lost", True)]
    assert stale[0].reason is not None and "not currently running" in stale[0].reason


def test_an_early_returning_post_naming_a_queued_job_makes_no_job(
    clock: object, ledger: InMemoryLedger
) -> None:
    from luigi_airbyte.sync import FakeClock, SyncSettings

    assert isinstance(clock, FakeClock)
    fake = EarlyReturningAirbyte(clock)
    # Queued by Airbyte's scheduler ten minutes ago, and not in our listing (it shows
    # up only after the POST, as a job created between the listing and the POST would).
    queued: FakeJob = fake.add_job(
        CONN,
        script=[("queued", 600.0), ("running", 5.0), ("succeeded", None)],
        created=clock.monotonic() - 600.0,
        visible_after=10_000.0,
    )
    runner = SyncRunner(fake, ledger, clock=clock, settings=SyncSettings())
    result = runner.run(CONN, KEY)
    assert result.job_id == queued.job_id
    assert result.attached_how == "queued"
    assert fake.calls.count("create_job") == 1
    assert fake.created_by_post(CONN) == []  # 0 extra jobs
    [entry] = ledger.entries()
    assert entry.job_id == queued.job_id and entry.attached and entry.status == "succeeded"


def test_a_live_claim_is_waited_for_and_its_job_attached(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner]
) -> None:
    holder = make_runner()
    attachment = holder.trigger_or_attach(CONN, KEY)
    assert attachment.how == "created"
    other = make_runner()
    joined = other.trigger_or_attach(CONN, KEY)
    assert joined.job_id == attachment.job_id and joined.how == "ledger"
    claim = ledger.get_claim(KEY)
    assert claim is not None and claim.holder == holder.holder  # still the first one's
    assert other.wait(joined).status is JobStatus.SUCCEEDED
    assert holder.wait(attachment).job_id == attachment.job_id
    released = ledger.get_claim(KEY)
    assert released is not None and released.holder is None
    assert len(fake.created_by_post(CONN)) == 1


def test_settle_records_a_dead_holders_finished_job_and_posts_nothing(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner], clock: object
) -> None:
    dead = replace(Holder.this_process("run-1"), token="dead", pid_started=1.0)
    assert ledger.claim(KEY, CONN, "sync", dead).outcome == "acquired"
    job = fake.add_job(CONN, script=[("running", 1.0), ("succeeded", None)], by_post=True)
    ledger.record_job(LedgerEntry(run_key=KEY, connection_id=CONN, job_id=job.job_id))
    assert [c.run_key for c in ledger.claims_held_by("run-1")] == [KEY]
    clock.advance(5.0)  # type: ignore[attr-defined]
    settled = make_runner().settle(KEY)
    assert settled is not None and settled.job_id == job.job_id and settled.status == "succeeded"
    assert ledger.claims_held_by("run-1") == []
    assert fake.calls.count("create_job") == 0


def test_the_keeper_renews_the_lease_until_stopped() -> None:
    import time

    from luigi_airbyte.sync.claim_keeper import ClaimKeeper

    ledger = InMemoryLedger()
    # A holder on another host: only its lease tells whether it is alive.
    remote = replace(Holder.this_process(), host="elsewhere.example", pid=1)
    assert ledger.claim(KEY, CONN, "sync", remote, lease_s=0.3).outcome == "acquired"
    keeper = ClaimKeeper(ledger, KEY, remote, lease_s=0.3).start()
    try:
        time.sleep(0.8)  # more than two leases
        assert ledger.claim(KEY, CONN, "sync", Holder.this_process()).outcome == "held"
    finally:
        keeper.stop()
    assert not keeper.lost
    time.sleep(0.5)
    taken = ledger.claim(KEY, CONN, "sync", Holder.this_process())
    assert taken.outcome == "acquired" and taken.previous_gone is not None
