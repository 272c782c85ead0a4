"""kill -9 at every sync boundary, then a re-run with the same run key: exactly one Airbyte
job per run key, and the re-run exits 0.

The runner's test-only pause hook (``LUIGI_AIRBYTE_TEST_PAUSE_AT``) stops the worker at the
boundary and touches a file; the test then SIGKILLs it, so the kill lands exactly there:

- ``claim``: before the claim;
- ``claimed``: the claim committed, nothing listed or posted;
- ``intent``: the create intent committed, ``POST /jobs`` not sent;
- ``posted``: ``POST /jobs`` answered, the job id not yet in the ledger (for the store, the
  same as a POST whose answer never came); the job finishes before the re-run;
- ``reconciling``: the POST's answer was lost and the listing that would find the job
  answers 503; the job finishes before the re-run (issue 7, bug 2);
- mid-wait: the job is recorded and polled.

Each runs on the default SQLite store and on a PostgreSQL store (a real server, a fresh
database per test): a deployment on several hosts shares PostgreSQL, where the ledger's
reads run in autocommit and a connection is pinged only after an idle second.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.integration_helpers import CONNECTION_ID, job_posts, jobs_of, wait_for
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store import Store
from pg_server import PostgresServer

WORKER = Path(__file__).with_name("sync_boundary_worker.py")
RUN_KEY = "crm/2026-01-15"
_databases = itertools.count()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store the killed worker and its re-run share: SQLite, or a fresh PostgreSQL
    database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(f"killed_{next(_databases)}")


def _spawn(sb: Sandbox, store_url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    full = {
        **os.environ,
        "INTEGRATION_CLIENT_ID": sb.client_id,
        "INTEGRATION_CLIENT_SECRET": sb.client_secret,
        **env,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(WORKER), sb.url, CONNECTION_ID, RUN_KEY, store_url],
            stdout=subprocess.PIPE,
            stderr=out,
            env=full,
        )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    assert proc.wait(timeout=10) == -signal.SIGKILL


def _all_terminal(sb: Sandbox) -> bool:
    jobs = jobs_of(sb)
    return bool(jobs) and all(j["status"] in ("succeeded", "failed", "cancelled") for j in jobs)


BOUNDARIES: list[Any] = [
    pytest.param("claim", None, id="before-the-claim"),
    pytest.param("claimed", None, id="after-the-claim"),
    pytest.param("intent", None, id="after-the-intent-before-the-post"),
    pytest.param("posted", None, id="after-the-post-before-its-answer"),
    pytest.param(
        "reconciling",
        [
            {"endpoint": "POST /jobs", "drop_connection": True, "nth": [1]},
            # The first listing (before the POST) passes; every later one answers 503.
            {"endpoint": "GET /jobs", "status": 503, "nth": list(range(2, 500))},
        ],
        id="mid-reconcile-listing-503",
    ),
    pytest.param("", None, id="mid-wait"),
]


@pytest.mark.parametrize(("boundary", "faults"), BOUNDARIES)
def test_kill_at_a_boundary_then_rerun_makes_one_job(
    start_sandbox: Callable[..., Sandbox],
    tmp_path: Path,
    store_url: str,
    boundary: str,
    faults: list[dict[str, Any]] | None,
) -> None:
    sb = start_sandbox(job_seconds=0.5 if boundary else 5.0)
    log = tmp_path / "worker.log"
    if faults:
        sb.set_faults(http=faults)
    marker = tmp_path / "paused"
    env = (
        {"LUIGI_AIRBYTE_TEST_PAUSE_AT": boundary, "LUIGI_AIRBYTE_TEST_PAUSE_FILE": str(marker)}
        if boundary
        else {}
    )
    first = _spawn(sb, store_url, log, **env)
    try:
        if boundary:
            wait_for(f"the worker to pause at {boundary!r}", marker.exists, timeout=60)
        else:
            wait_for("the job to run", lambda: jobs_of(sb), timeout=60)
            wait_for("the worker to poll", lambda: sb.requests(endpoint="GET /jobs/{jobId}"))
        _kill(first)
    finally:
        if first.poll() is None:
            _kill(first)
    sb.set_faults(http=[])
    posts_before = len(job_posts(sb))
    if boundary in ("posted", "reconciling"):
        # The job outlives its poster and finishes before anyone comes back for it.
        wait_for("the orphan job to finish", lambda: _all_terminal(sb), timeout=30)
        assert posts_before == 1 and len(jobs_of(sb)) == 1

    rerun = _spawn(sb, store_url, log)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, log.read_text()
    how, job_id, status = out.decode().split()
    assert status == "succeeded"

    jobs = jobs_of(sb)
    assert len(jobs) == 1, jobs  # exactly one Airbyte job for the run key
    assert int(job_id) == jobs[0]["jobId"]
    expected_how = {
        "claim": "created",
        "claimed": "created",
        "intent": "created",
        "posted": "reconciled",
        "reconciling": "reconciled",
        "": "ledger",
    }[boundary]
    assert how == expected_how
    with Store(store_url) as store:
        entries = store.ledger.entries()
        assert [(e.job_id, e.status) for e in entries] == [(int(job_id), "succeeded")]
        claim = store.ledger.get_claim(RUN_KEY)
        if boundary != "claim":
            assert claim is not None and claim.holder is None and claim.intent_at is None


def test_a_waiter_takes_over_when_the_holder_dies_meanwhile(
    start_sandbox: Callable[..., Sandbox], tmp_path: Path, store_url: str
) -> None:
    """A second process finds a live claim and waits; the holder is killed after its intent
    and before its POST: the waiter takes the claim over, reconciles, and posts once."""
    sb = start_sandbox(job_seconds=0.3)
    holder_log, waiter_log = tmp_path / "holder.log", tmp_path / "waiter.log"
    marker = tmp_path / "paused"
    holder = _spawn(
        sb,
        store_url,
        holder_log,
        LUIGI_AIRBYTE_TEST_PAUSE_AT="intent",
        LUIGI_AIRBYTE_TEST_PAUSE_FILE=str(marker),
    )
    waiter = None
    try:
        wait_for("the holder to pause after its intent", marker.exists, timeout=60)
        waiter = _spawn(sb, store_url, waiter_log)
        wait_for(
            "the waiter to see the live claim",
            lambda: "is claimed by" in waiter_log.read_text(errors="replace"),
            timeout=60,
        )
        assert job_posts(sb) == [] and waiter.poll() is None  # it waits, it does not post
        _kill(holder)
        out, _ = waiter.communicate(timeout=120)
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                _kill(proc)
    assert waiter.returncode == 0, waiter_log.read_text()
    how, job_id, status = out.decode().split()
    assert (how, status) == ("created", "succeeded")
    assert "took over run key" in waiter_log.read_text()
    assert [j["jobId"] for j in jobs_of(sb)] == [int(job_id)]
    assert len(job_posts(sb)) == 1
