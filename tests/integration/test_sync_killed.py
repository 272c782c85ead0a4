"""kill -9 in the middle of a wait, then a re-run with the same run key: the SQL ledger
remembers the job, so the re-run re-attaches to it instead of starting a second sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from integration.integration_helpers import (
    CONNECTION_ID,
    job_posts,
    jobs_of,
    runner_for,
    wait_for,
)
from luigi_airbyte.airbyte import AirbyteClient, JobStatus
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store import Store

WORKER = Path(__file__).with_name("sync_in_subprocess.py")
RUN_KEY = "crm/2026-01-15"


def test_a_runner_killed_mid_wait_is_reattached_through_the_ledger(
    start_sandbox: Callable[..., Sandbox],
    make_client: Callable[..., AirbyteClient],
    tmp_path: Path,
) -> None:
    sb = start_sandbox(job_seconds=10.0)
    ledger_db = tmp_path / "metadata.db"
    env = {
        **os.environ,
        "INTEGRATION_CLIENT_ID": sb.client_id,
        "INTEGRATION_CLIENT_SECRET": sb.client_secret,
    }
    with (tmp_path / "worker.log").open("wb") as worker_log:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), sb.url, CONNECTION_ID, RUN_KEY, str(ledger_db)],
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            # Mid-wait: the job runs and the worker has polled it at least once.
            [job] = wait_for(
                "the job to run",
                lambda: [j for j in jobs_of(sb) if j["status"] == "running"],
                timeout=30,
            )
            wait_for("the worker to poll", lambda: sb.requests(endpoint="GET /jobs/{jobId}"))
            worker.kill()  # SIGKILL: no handler, no cleanup, no goodbye
            assert worker.wait(timeout=10) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [j["status"] for j in jobs_of(sb)] == ["running"]  # it outlived its waiter

    store = Store(f"sqlite:///{ledger_db}").open()
    try:
        entry = store.ledger.find_open(RUN_KEY)
        assert entry is not None and entry.job_id == job["jobId"]

        result = runner_for(make_client(sb), store.ledger).run(CONNECTION_ID, RUN_KEY)

        assert result.attached_how == "ledger"
        assert result.job.job_id == job["jobId"]
        assert result.status is JobStatus.SUCCEEDED
        assert len(jobs_of(sb)) == 1
        assert len(job_posts(sb)) == 1  # the worker's; the re-run posted nothing
        done = store.ledger.last_succeeded(RUN_KEY)
        assert done is not None and done.job_id == job["jobId"]
        assert store.ledger.find_open(RUN_KEY) is None
    finally:
        store.close()
