"""Exactly one Airbyte job per logical sync, whatever goes wrong around it."""

from __future__ import annotations

import random

import pytest
from sync_fakes import CONN, FakeAirbyte, quick_success

from luigi_airbyte.errors import JobCreateUncertainError, StoreError, SyncAlreadyRunningError
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.store.ledger import InMemoryLedger, LedgerEntry
from luigi_airbyte.sync import FakeClock, SyncRunner, SyncSettings


class Killed(BaseException):
    """Stands in for kill -9: nothing in the runner may catch it."""


def test_happy_path_creates_one_job_and_records_it_first(fake, ledger, emitter, make_runner):
    order: list[str] = []
    original = ledger.record_job

    def record_job(entry: LedgerEntry) -> None:
        order.append(f"ledger:{entry.job_id}")
        original(entry)

    ledger.record_job = record_job  # type: ignore[method-assign]
    emitter.emit = lambda e: order.append(e.name)  # type: ignore[method-assign]

    result = make_runner().run(CONN, "crm@2026-01-01")

    (job,) = fake.created_by_post(CONN)
    assert result.job_id == job.job_id
    assert result.attached_how == "created"
    assert order[0] == f"ledger:{job.job_id}"
    assert order[1] == "sync.triggered"
    (entry,) = ledger.entries()
    assert entry.finished and entry.status == "succeeded" and not entry.attached


def test_attaches_to_a_running_scheduled_sync(fake, ledger, emitter, make_runner):
    scheduled = fake.add_job(CONN, script=quick_success(30))
    result = make_runner().run(CONN, "rk")
    assert result.job_id == scheduled.job_id
    assert result.attached_how == "running"
    assert fake.created_by_post() == []
    assert "create_job" not in fake.calls
    assert ledger.entries()[0].attached is True
    assert emitter.names()[0] == "sync.attached"


def test_409_from_a_scheduled_sync_not_yet_listed_attaches(fake, ledger, make_runner):
    # The scheduler started a job; the listing does not show it for 5 s, so we POST and
    # get a 409. The runner must find that job and attach, never fail or post again.
    scheduled = fake.add_job(CONN, script=quick_success(60), visible_after=5.0)
    result = make_runner().run(CONN, "rk")
    assert result.job_id == scheduled.job_id
    assert result.attached_how == "conflict"
    assert fake.calls.count("create_job") == 1
    assert fake.created_by_post() == []


def test_409_when_the_blocking_job_already_finished_adopts_it(fake, clock, make_runner):
    # The blocking sync ends between our 409 and our listing.
    blocker = fake.add_job(CONN, script=[("running", 0.2), ("succeeded", None)], visible_after=0.1)
    runner = make_runner()
    original_create = fake.create_job

    def create(connection_id, job_type=None):  # type: ignore[no-untyped-def]
        try:
            return original_create(connection_id, job_type)
        finally:
            clock.advance(1.0)

    fake.create_job = create  # type: ignore[method-assign]
    result = runner.run(CONN, "rk")
    assert result.job_id == blocker.job_id
    assert result.attached_how == "conflict"
    assert fake.created_by_post() == []


def test_409_with_nothing_visible_raises_with_a_hint(fake, clock, make_runner):
    # Airbyte's connection state is stuck (airbyte#25920): 409 but no job anywhere.
    fake.add_job(CONN, script=[("running", None)], visible_after=10_000.0)
    with pytest.raises(SyncAlreadyRunningError, match="stuck"):
        make_runner(confirm_window=10.0).run(CONN, "rk")
    assert fake.created_by_post() == []


def test_409_names_a_job_of_another_type(fake, make_runner):
    fake.add_job(CONN, script=[("running", None)], job_type=fake_reset())
    with pytest.raises(SyncAlreadyRunningError, match="busy with reset job"):
        make_runner(confirm_window=5.0).run(CONN, "rk")


def fake_reset():  # type: ignore[no-untyped-def]
    from luigi_airbyte.airbyte.models import JobType

    return JobType.RESET


def test_get_storm_during_wait_keeps_one_job(clock, ledger, quiet_logs):
    fake = FakeAirbyte(clock, seed=3, get_error_rate=0.6, script=lambda: quick_success(120))
    runner = SyncRunner(fake, ledger, clock=clock)
    result = runner.run(CONN, "rk")
    assert result.status.value == "succeeded"
    assert len(fake.created_by_post()) == 1
    assert fake.calls.count("create_job") == 1


def test_list_storm_before_create_is_retried_not_skipped(clock, ledger):
    fake = FakeAirbyte(clock, seed=5, list_error_rate=0.5)
    running = fake.add_job(CONN, script=quick_success(20))
    result = SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    assert result.job_id == running.job_id
    assert fake.created_by_post() == []


@pytest.mark.parametrize("fault", ["drop_after_create", "5xx_after_create"])
def test_ambiguous_create_is_reconciled_not_reposted(fake, emitter, make_runner, fault):
    fake.create_faults = [fault]
    fake.list_lag = 3.0
    result = make_runner().run(CONN, "rk")
    assert result.attached_how == "reconciled"
    assert fake.calls.count("create_job") == 1
    assert len(fake.created_by_post()) == 1
    assert "sync.reconciled" in emitter.names()


def test_ambiguous_create_that_created_nothing_posts_once_more(fake, clock, make_runner):
    fake.create_faults = ["drop_before_create"]
    result = make_runner(confirm_window=30.0).run(CONN, "rk")
    assert result.attached_how == "created"
    assert fake.calls.count("create_job") == 2
    assert len(fake.created_by_post()) == 1


def test_two_unanswered_creates_give_up(fake, make_runner):
    fake.create_faults = ["drop_before_create", "drop_before_create"]
    with pytest.raises(JobCreateUncertainError):
        make_runner(confirm_window=5.0).run(CONN, "rk")
    assert fake.calls.count("create_job") == 2


def test_reconcile_ignores_older_finished_jobs(fake, clock, make_runner):
    # A job that finished just before our call must not be mistaken for ours.
    old = fake.add_job(CONN, script=[("running", 1.0), ("succeeded", None)])
    clock.advance(5.0)
    fake.create_faults = ["drop_after_create"]
    fake.list_lag = 2.0
    result = make_runner().run(CONN, "rk")
    assert result.job_id != old.job_id
    assert result.attached_how == "reconciled"


def test_uncertain_create_thousand_trials_zero_duplicates(quiet_logs):
    """1,000 seeded trials of lost create answers, lagging listings, skewed clocks, GET storms."""
    duplicates = 0
    wrong = 0
    for trial in range(1000):
        rng = random.Random(trial)
        clock = FakeClock()
        duration = rng.uniform(0.5, 90.0)
        fake = FakeAirbyte(
            clock,
            seed=trial,
            script=lambda d=duration: quick_success(d),
            list_lag=rng.uniform(0.0, 20.0),
            get_error_rate=rng.choice([0.0, 0.2, 0.5]),
            list_error_rate=rng.choice([0.0, 0.1, 0.3]),
            server_skew=rng.uniform(-60.0, 60.0),
        )
        if rng.random() < 0.3:
            fake.add_history(CONN, [duration] * 5, rows=[100] * 5)
        fake.create_faults = [
            rng.choice(
                ["drop_after_create", "drop_after_create", "5xx_after_create", "drop_before_create"]
            )
        ]
        ledger = InMemoryLedger()
        runner = SyncRunner(
            fake,
            ledger,
            clock=clock,
            settings=SyncSettings(confirm_window=30.0, stuck_after=None),
        )
        result = runner.run(CONN, f"rk-{trial}")
        created = fake.created_by_post(CONN)
        if len(created) != 1:
            duplicates += 1
        elif result.job_id != created[0].job_id:
            wrong += 1
    assert duplicates == 0
    assert wrong == 0


def test_killed_mid_wait_then_rerun_reattaches(fake, clock, ledger):
    fake.script = lambda: quick_success(300)

    def kill(job_id: int, nth: int) -> None:
        if nth == 3:
            raise Killed()

    fake.on_get = kill
    with pytest.raises(Killed):
        SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    (entry,) = ledger.entries()
    assert not entry.finished

    fake.on_get = None
    emitter = ListEmitter()
    result = SyncRunner(fake, ledger, clock=clock, emitter=emitter).run(CONN, "rk")
    assert result.attached_how == "ledger"
    assert result.job_id == entry.job_id
    assert fake.calls.count("create_job") == 1
    assert emitter.names()[0] == "sync.attached"
    assert ledger.find_open("rk") is None


def test_rerun_after_the_job_finished_while_we_were_gone(fake, clock, ledger):
    fake.script = lambda: quick_success(50)
    fake.on_get = lambda job_id, nth: (_ for _ in ()).throw(Killed())
    with pytest.raises(Killed):
        SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    fake.on_get = None
    clock.advance(3600)
    runner = SyncRunner(fake, ledger, clock=clock)
    attachment = runner.trigger_or_attach(CONN, "rk")
    assert attachment.how == "ledger" and attachment.finished
    assert ledger.find_open("rk") is None  # outcome recorded already
    gets = fake.calls.count("get_job")
    result = runner.wait(attachment)
    assert result.status.value == "succeeded"
    assert fake.calls.count("get_job") == gets  # no polling for a finished job
    assert fake.calls.count("create_job") == 1


def test_crash_between_post_and_ledger_write_reattaches_by_listing(fake, clock):
    class BrokenLedger(InMemoryLedger):
        def record_job(self, entry: LedgerEntry) -> None:
            raise StoreError("disk full")

    fake.script = lambda: quick_success(100)
    with pytest.raises(StoreError):
        SyncRunner(fake, BrokenLedger(), clock=clock).run(CONN, "rk")
    ledger = InMemoryLedger()
    result = SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    assert result.attached_how == "running"
    assert len(fake.created_by_post()) == 1


def test_failed_job_in_ledger_lets_the_next_run_start_fresh(fake, clock, ledger):
    fake.script = lambda: [("running", 5.0), ("failed", None)]
    from luigi_airbyte.errors import SyncFailedError

    with pytest.raises(SyncFailedError):
        SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    fake.script = lambda: quick_success(5)
    result = SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    assert result.attached_how == "created"
    assert len(fake.created_by_post()) == 2


def test_ledger_job_deleted_in_airbyte_is_closed_and_replaced(fake, clock, ledger):
    ledger.record_job(LedgerEntry(run_key="rk", connection_id=CONN, job_id=42))
    result = SyncRunner(fake, ledger, clock=clock).run(CONN, "rk")
    assert result.attached_how == "created"
    statuses = {e.job_id: e.status for e in ledger.entries()}
    assert statuses[42] == "lost"


def test_several_running_jobs_attach_to_the_newest(fake, make_runner):
    fake.add_job(CONN, script=quick_success(40))
    newest = fake.add_job(CONN, script=quick_success(40))
    result = make_runner().run(CONN, "rk")
    assert result.job_id == newest.job_id
