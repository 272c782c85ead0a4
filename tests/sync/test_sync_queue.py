"""Time queued for capacity is not running time (issue 9): queue_timeout, replacement."""

from __future__ import annotations

import pytest
from sync_fakes import CONN, FakeAirbyte

from luigi_airbyte.airbyte.models import JobStatus
from luigi_airbyte.errors import SyncCancelledError, SyncTimeoutError
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import FakeClock, FixedInterval, SyncRunner, SyncSettings

HOUR = 3600.0


def runner_for(fake, ledger, clock, emitter=None, **kw) -> SyncRunner:  # type: ignore[no-untyped-def]
    kw.setdefault("poll_strategy", FixedInterval(60.0))
    return SyncRunner(
        fake, ledger, clock=clock, emitter=emitter or ListEmitter(), settings=SyncSettings(**kw)
    )


def test_queued_longer_than_the_timeout_but_within_queue_timeout_succeeds(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock
) -> None:
    # Queued 3 h for capacity, then 20 min running; timeout 1 h, stuck after 30 min.
    fake.script = lambda: [
        ("pending", 1.0),
        ("queued", 3 * HOUR),
        ("running", 1200.0),
        ("succeeded", None),
    ]
    emitter = ListEmitter()
    runner = runner_for(
        fake, ledger, clock, emitter, timeout=HOUR, stuck_after=1800.0, on_stuck="cancel"
    )

    result = runner.run(CONN, "rk")

    assert result.status is JobStatus.SUCCEEDED
    assert fake.cancels == []
    assert 3 * HOUR - 120 <= result.queued_s <= 3 * HOUR + 120
    assert "sync.stuck" not in emitter.names() and "sync.timeout" not in emitter.names()
    succeeded = next(e for e in emitter.events if e.name == "sync.succeeded")
    assert succeeded.fields["queued_s"] == result.queued_s


def test_running_time_still_has_its_timeout_after_the_queue(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock
) -> None:
    fake.script = lambda: [("queued", 2 * HOUR), ("running", None)]
    runner = runner_for(fake, ledger, clock, timeout=HOUR, stuck_after=None)
    with pytest.raises(SyncTimeoutError, match="did not finish within 3600s"):
        runner.run(CONN, "rk")
    # cancelled for running an hour, not for the two hours queued before
    assert len(fake.cancels) == 1
    assert 3 * HOUR - 120 <= clock.monotonic() <= 3 * HOUR + 300


def test_past_queue_timeout_the_job_is_left_queued_never_cancelled(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock
) -> None:
    fake.script = lambda: [("queued", None)]
    emitter = ListEmitter()
    runner = runner_for(fake, ledger, clock, emitter, timeout=HOUR, queue_timeout=2 * HOUR)
    with pytest.raises(SyncTimeoutError, match="queued for capacity") as info:
        runner.run(CONN, "rk")
    assert fake.cancels == []
    assert "queue_timeout" in str(info.value) and "re-attaches" in str(info.value)
    (entry,) = ledger.entries()
    assert not entry.finished  # the next run re-attaches to the queued job
    assert "sync.queue_timeout" in emitter.names()
    assert 2 * HOUR <= clock.monotonic() <= 2 * HOUR + 120


def test_progress_reports_queue_time_apart(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock
) -> None:
    fake.script = lambda: [("queued", 600.0), ("running", 300.0), ("succeeded", None)]
    seen = []
    runner = runner_for(fake, ledger, clock, poll_strategy=FixedInterval(30.0))
    attachment = runner.trigger_or_attach(CONN, "rk")
    runner.wait(attachment, on_progress=seen.append)
    running = [p for p in seen if p.status is JobStatus.RUNNING]
    assert running and all(p.queued_s >= 540 for p in running)
    assert all(p.elapsed_s <= 330 for p in running)  # queue time is not running time
    assert "queued" in running[-1].message


def test_a_replaced_queued_job_ends_attached_to_its_replacement(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock
) -> None:
    fake.script = lambda: [("queued", 900.0), ("cancelled", None)]
    emitter = ListEmitter()
    runner = runner_for(fake, ledger, clock, emitter)
    attachment = runner.trigger_or_attach(CONN, "rk")
    ours = attachment.job_id
    # Airbyte's scheduler replaces the queued manual job with a newer scheduled one.
    replacement = fake.add_job(
        CONN,
        script=[("queued", 600.0), ("running", 600.0), ("succeeded", None)],
        created=clock.monotonic() + 900.0,
    )

    result = runner.wait(attachment)

    assert result.status is JobStatus.SUCCEEDED
    assert result.job_id == replacement.job_id
    assert result.replaced_job_ids == (ours,)
    assert len(fake.created_by_post()) == 1  # one job counted as ours: the one we posted
    rows = {e.job_id: e for e in ledger.entries()}
    assert rows[ours].status == "cancelled" and rows[ours].finished
    assert rows[replacement.job_id].status == "succeeded" and rows[replacement.job_id].attached
    replaced = next(e for e in emitter.events if e.name == "sync.replaced")
    assert (replaced.fields["replaced_job_id"], replaced.fields["new_job_id"]) == (
        ours,
        replacement.job_id,
    )


def test_a_job_cancelled_after_it_ran_is_not_followed(
    fake: FakeAirbyte, ledger: InMemoryLedger, clock: FakeClock
) -> None:
    fake.script = lambda: [("queued", 60.0), ("running", 300.0), ("cancelled", None)]
    runner = runner_for(fake, ledger, clock)
    attachment = runner.trigger_or_attach(CONN, "rk")
    fake.add_job(CONN, script=[("running", 60.0), ("succeeded", None)], created=400.0)
    with pytest.raises(SyncCancelledError):
        runner.wait(attachment)


def test_a_replacement_that_is_listed_late_is_still_found(
    clock: FakeClock, ledger: InMemoryLedger
) -> None:
    fake = FakeAirbyte(clock, script=lambda: [("queued", 900.0), ("cancelled", None)])
    runner = runner_for(fake, ledger, clock, confirm_window=30.0)
    attachment = runner.trigger_or_attach(CONN, "rk")
    replacement = fake.add_job(
        CONN,
        script=[("running", 600.0), ("succeeded", None)],
        created=clock.monotonic() + 900.0,
        visible_after=10.0,  # listed 10 s after it was created
    )
    result = runner.wait(attachment)
    assert result.job_id == replacement.job_id
