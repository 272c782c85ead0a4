"""A seeded trial loop: 1,000 syncs whose POST /jobs answer is lost about half the time.

Each trial is one logical sync (a fresh run key) started after the previous job finished.
When the answer to ``POST /jobs`` is dropped the job exists anyway, and the runner must find
and adopt it instead of posting again; otherwise it gets the answer and uses it. Either way
the sandbox must end up with exactly one job per trial.

The trials run in ``WORKERS`` independent lanes, each with its own sandbox, seed, client and
runner, one after another within a lane. A lane is deterministic: its sandbox counts only its
own POSTs against its own seeded fault. Why lanes (profiled with py-spy, one lane of 1,000
took ~60 s on 2 cores): a created job is polled after the runner's 0.05 s minimum poll
delay, most of such a trial's wall time, and lanes overlap those sleeps; and the sandbox
serializes every job of the connection on each ``GET /jobs`` (O(jobs) per listing, ~70 % of
its CPU at 1,000 jobs), which 250 jobs per sandbox keeps small. Jobs move no rows (no
streams) so no trial waits on a database write.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from integration.integration_helpers import CONNECTION_ID, job_posts, jobs_of, runner_for
from luigi_airbyte.airbyte import AirbyteClient, JobStatus
from luigi_airbyte.sandbox import Sandbox

TRIALS = 1_000
WORKERS = 4
DROP_RATE = 0.5


def _lane(sb: Sandbox, client: AirbyteClient, lane: int, trials: int) -> dict[str, Any]:
    runner = runner_for(client, confirm_window=0.25)
    how: collections.Counter[str] = collections.Counter()
    job_ids: list[int] = []
    for trial in range(trials):
        result = runner.run(CONNECTION_ID, f"lane{lane}/trial{trial}")
        assert result.status is JobStatus.SUCCEEDED
        how[result.attached_how] += 1
        job_ids.append(result.job.job_id)
    return {"how": how, "job_ids": job_ids}


def test_a_thousand_lost_or_answered_creates_make_no_duplicate(
    start_sandbox: Callable[..., Sandbox], make_client: Callable[..., AirbyteClient]
) -> None:
    per_lane = TRIALS // WORKERS
    sandboxes = [start_sandbox(job_seconds=0, rows=0) for _ in range(WORKERS)]
    for lane, sb in enumerate(sandboxes):
        drop = {"endpoint": "POST /jobs", "drop_connection": True, "rate": DROP_RATE}
        sb.set_faults(http=[{**drop, "seed": 1000 + lane}])
    clients = [make_client(sb) for sb in sandboxes]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [
            pool.submit(_lane, sb, client, lane, per_lane)
            for lane, (sb, client) in enumerate(zip(sandboxes, clients, strict=True))
        ]
        outcomes = [f.result() for f in futures]

    total: collections.Counter[str] = collections.Counter()
    for sb, outcome in zip(sandboxes, outcomes, strict=True):
        jobs = jobs_of(sb)
        posts = job_posts(sb)
        dropped = sum(p["dropped"] for p in posts)
        # Exactly one job and one POST per trial: nothing duplicated, nothing re-posted.
        assert len(jobs) == per_lane
        assert len(posts) == per_lane
        assert sorted(outcome["job_ids"]) == sorted(j["jobId"] for j in jobs)
        assert all(j["status"] == "succeeded" for j in jobs)
        # Every lost answer was reconciled; every answered create was used as is.
        assert outcome["how"] == {"reconciled": dropped, "created": per_lane - dropped}
        total += outcome["how"]
    assert sum(total.values()) == TRIALS
    # Both paths ran often (the seeded rate is 0.5).
    assert total["reconciled"] > TRIALS // 4
    assert total["created"] > TRIALS // 4
