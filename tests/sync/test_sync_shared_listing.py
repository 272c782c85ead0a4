"""A brand-new claim takes the connection's recent jobs from the run's shared listing
(``SyncRunner(recent=...)``) instead of listing them before its POST; every other claim,
and every case where that listing cannot be trusted, lists as before (fakes)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sync_fakes import CONN, FakeAirbyte

from luigi_airbyte.airbyte.models import Job, JobType
from luigi_airbyte.app.seen_jobs import WorkspaceJobs
from luigi_airbyte.errors import JobCreateUncertainError
from luigi_airbyte.store.ledger import Holder, InMemoryLedger
from luigi_airbyte.sync import FakeClock, SyncRunner

KEY = "crm/2026-01-15"
RecentFn = Callable[[str, JobType, int], "list[Job] | None"]


def snapshot(fake: FakeAirbyte) -> RecentFn:
    """The run's listing, taken now: what ``app.seen_jobs`` hands to the runner."""
    listed = list(fake.list_jobs(job_type=JobType.SYNC))
    fake.calls.clear()
    by_conn: dict[str, list[Job]] = {}
    for job in sorted(listed, key=lambda j: j.job_id, reverse=True):
        by_conn.setdefault(job.connection_id, []).append(job)
    seen = WorkspaceJobs({c: tuple(j) for c, j in by_conn.items()}, complete=True)

    def recent(connection_id: str, job_type: JobType, limit: int) -> list[Job] | None:
        return seen.recent(connection_id, limit) if job_type is JobType.SYNC else None

    return recent


@pytest.fixture
def clock() -> FakeClock:
    # The ledger stamps intents with the real clock: Airbyte's (the fake's) must agree.
    return FakeClock(datetime.now(timezone.utc))


def _dead_holder() -> Holder:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return replace(Holder.this_process("run-dead"), pid=proc.pid, pid_started=time.time() - 5)


def test_a_brand_new_claim_posts_without_listing_and_keeps_its_history(
    fake: FakeAirbyte, make_runner: Callable[..., SyncRunner]
) -> None:
    past = fake.add_history(CONN, [30.0, 40.0], rows=[100, 110])
    recent = snapshot(fake)

    attachment = make_runner(recent=recent).trigger_or_attach(CONN, KEY)

    assert attachment.how == "created"
    assert fake.calls == ["create_job"]
    assert attachment.history is not None
    assert [j.job_id for j in attachment.history] == [j.job_id for j in reversed(past)]
    result = make_runner(recent=recent).wait(attachment)
    assert result.attached_how == "created"
    assert "list_jobs" not in fake.calls
    assert len(fake.created_by_post(CONN)) == 1


def test_without_a_shared_listing_the_claim_lists_first(
    fake: FakeAirbyte, make_runner: Callable[..., SyncRunner]
) -> None:
    make_runner(recent=None).trigger_or_attach(CONN, KEY)
    assert fake.calls == ["list_jobs", "create_job"]


def test_a_left_intent_is_reconciled_even_with_a_shared_listing(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner]
) -> None:
    recent = snapshot(fake)  # taken before the dead holder's POST: it shows nothing
    dead = _dead_holder()
    assert ledger.claim(KEY, CONN, "sync", dead).outcome == "acquired"
    ledger.mark_intent(KEY, dead, None)
    posted = fake.add_job(CONN, by_post=True)  # its POST reached Airbyte, then it died

    attachment = make_runner(recent=recent).trigger_or_attach(CONN, KEY)

    assert attachment.job.job_id == posted.job_id and attachment.how == "reconciled"
    assert fake.calls.count("create_job") == 0
    assert len(fake.created_by_post(CONN)) == 1


def test_a_job_the_shared_listing_saw_running_is_looked_at_again(
    fake: FakeAirbyte, make_runner: Callable[..., SyncRunner]
) -> None:
    outside = fake.add_job(CONN, script=[("running", 5.0), ("succeeded", None)])
    recent = snapshot(fake)

    attachment = make_runner(recent=recent).trigger_or_attach(CONN, KEY)

    assert fake.calls[0] == "list_jobs"
    assert attachment.job.job_id == outside.job_id and attachment.how == "running"
    assert "create_job" not in fake.calls


def test_a_job_started_after_the_shared_listing_is_attached_after_the_409(
    fake: FakeAirbyte, make_runner: Callable[..., SyncRunner]
) -> None:
    recent = snapshot(fake)
    outside = fake.add_job(CONN, script=[("running", 50.0), ("succeeded", None)])

    attachment = make_runner(recent=recent).trigger_or_attach(CONN, KEY)

    assert attachment.job.job_id == outside.job_id and attachment.how == "conflict"
    assert not fake.created_by_post(CONN)


@pytest.mark.parametrize("fault", ["drop_after_create", "5xx_after_create", "drop_before_create"])
def test_a_lost_answer_after_a_shared_listing_makes_one_job(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner], fault: str
) -> None:
    fake.add_history(CONN, [30.0])
    recent = snapshot(fake)
    fake.create_faults = [fault]

    result = make_runner(recent=recent).run(CONN, KEY)

    assert len(fake.created_by_post(CONN)) == 1
    assert result.job_id == fake.created_by_post(CONN)[0].job_id
    assert [e.job_id for e in ledger.entries()] == [result.job_id]


def test_a_killed_post_leaves_an_intent_the_next_claim_reconciles(
    fake: FakeAirbyte, ledger: InMemoryLedger, make_runner: Callable[..., SyncRunner]
) -> None:
    """The first holder's intent carries the shared listing's newest job id; the POST
    reached Airbyte, the answer was lost and no listing worked; a later holder finds it."""
    fake.add_history(CONN, [30.0])
    recent = snapshot(fake)
    fake.create_faults = ["drop_after_create"]
    fake.list_error_rate = 1.0
    with pytest.raises(JobCreateUncertainError):
        make_runner(recent=recent, confirm_window=1.0).trigger_or_attach(CONN, KEY)
    claim = ledger.get_claim(KEY)
    assert claim is not None and claim.intent_at is not None
    fake.list_error_rate = 0.0

    attachment = make_runner(recent=recent).trigger_or_attach(CONN, KEY)

    assert attachment.how == "reconciled"
    assert len(fake.created_by_post(CONN)) == 1


def test_a_capped_workspace_listing_answers_only_for_connections_it_covers() -> None:
    job = Job.from_api({"jobId": 1, "status": "succeeded", "connectionId": "a"})
    capped = WorkspaceJobs({"a": (job,)}, complete=False)
    assert capped.recent("a", 1) == [job]
    assert capped.recent("a", 2) is None
    assert capped.recent("b", 20) is None
    whole = WorkspaceJobs({"a": (job,)}, complete=True)
    assert whole.recent("a", 20) == [job]
    assert whole.recent("b", 20) == []
