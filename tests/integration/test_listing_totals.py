"""A job listing's counts give the same totals as the job's own details.

The host's watcher passes an ended job's counts from the config API's job listing to
its task, instead of the task fetching ``jobs/get_without_logs``. A listing hydrates its
stats differently (attempt stats from persisted stats, without committed bytes), so
this checks, over seeded worlds with every sync mode and 0-2 failed attempts, that both
give the task the same totals by Airbyte's rules: records and bytes, per stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from integration.clean_runs import CONNECTION, seeded_world
from luigi_airbyte.airbyte import AirbyteClient
from luigi_airbyte.airbyte.job_stats import StreamStats
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.world import derived_id
from luigi_airbyte.sync.outcome import totals_from_details

SEEDS = range(12)


def _records(s: StreamStats) -> tuple[object, ...]:
    return (s.name, s.records_emitted, s.records_committed, s.records_rejected)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_listings_totals_equal_the_jobs_own(
    seed: int,
    tmp_path: Path,
    start_sandbox: Callable[..., Sandbox],
    make_client: Callable[..., AirbyteClient],
) -> None:
    data = seeded_world(seed, tmp_path)
    modes = {s["name"]: s["sync_mode"] for s in data["connections"][0]["streams"]}
    sb = start_sandbox(data)
    client = make_client(sb)
    conn = derived_id("connection", CONNECTION)
    job = client.create_job(conn)
    deadline = time.monotonic() + 30
    while not client.get_job(job.job_id).status.is_terminal:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    own = client.get_job_details(job.job_id)
    listed = client.list_job_details(workspace_ids=[sb.engine.get_connection(conn)["workspaceId"]])
    assert own is not None and listed is not None
    (from_listing,) = [d for d in listed if d.job.job_id == job.job_id]
    assert not from_listing.stats.attempt_bytes_reported  # the listing's hydration
    expected = totals_from_details(own, modes)
    assert expected.bytes_committed and expected.records_committed
    got = totals_from_details(from_listing, modes)
    # The final attempt's committed bytes are not in a listing; only its records are
    # judged (``final_attempt_shortfall``, the counts check's lost records).
    assert replace(got, final_streams=()) == replace(expected, final_streams=())
    assert [_records(s) for s in got.final_streams] == [_records(s) for s in expected.final_streams]
    assert from_listing.job.bytes_synced == own.job.bytes_synced
    assert from_listing.job.rows_synced == own.job.rows_synced
    assert from_listing.failure_reason == own.failure_reason
