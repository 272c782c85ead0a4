"""Bugs the fault proxy found below HTTP, each pinned by an exact, scripted fault sequence.

Each was first committed as a strict xfail naming the bug; the mark went when the fix
landed, so each now guards against the bug's return. The first was fixed by the claim and
its intent, committed before ``POST /jobs`` (issue 7, "the ledger is a lock, not a memo").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from faultproxy import Fault
from hostile.hostile_helpers import (
    CONNECTIONS,
    Truth,
    read_store,
    run_in_process,
    run_key,
    trial_world,
    write_pipeline,
)

DATE = dt.date(2026, 3, 1)


class DuplicateJobs(AssertionError):
    """The bug itself; the xfail below expects exactly this, so any other failure shows."""


def _lost_create_then_no_listing() -> Callable[[int, str, str], Fault | None]:
    """The answer to the first ``POST /jobs`` is lost after the server created the job; from
    then on every listing of jobs (``GET /jobs``) is reset before it reaches the server, so the
    runner cannot reconcile and gives up without posting again (correctly)."""
    posted = False

    def script(index: int, method: str, path: str) -> Fault | None:
        nonlocal posted
        if method == "POST" and path.endswith("/jobs") and not posted:
            posted = True
            return Fault("reset", "after_upstream")
        if posted and method == "GET" and path.endswith("/jobs"):
            return Fault("reset", "before_upstream")
        return None

    return script


def test_a_lost_create_that_cannot_be_reconciled_is_not_posted_again_by_the_rerun(
    tmp_path: Path,
) -> None:
    with trial_world(tmp_path, 0, None) as (sb, proxy):
        proxy.script = _lost_create_then_no_listing()
        root = tmp_path / "project"
        root.mkdir()
        pipeline = write_pipeline(root, proxy.base_url + "/api/public/v1")
        truth = Truth(sb)
        try:
            first = run_in_process(pipeline, DATE)
            assert first != 0  # gave up: Airbyte unreachable for the reconcile
            # The lost create's connection has its one job and was not posted again. The
            # other syncs are brand-new claims: they take their recent jobs from the run's
            # one listing (made before the first POST) and post once each; only the
            # lost create needed a listing it could not get.
            created = {n: js for n, js in truth.settle().items() if js}
            assert created and all(len(js) == 1 for js in created.values()), created
            assert truth.posts() == len(created), (truth.posts(), created)  # one POST a job

            proxy.script = None
            proxy.enabled = False
            second = run_in_process(pipeline, DATE)
            jobs = truth.settle()
            counts = {n: len(js) for n, js in jobs.items()}
            if counts != dict.fromkeys(CONNECTIONS, 1):  # the re-run posted a second job
                raise DuplicateJobs(f"jobs per run key after the re-run: {jobs}")
            assert second == 0
            ledger, steps = read_store(root / "state")
            for name, (job,) in jobs.items():
                rows = [r for r in ledger if r["run_key"] == run_key(name, DATE)]
                assert rows and rows[-1]["job_id"] == job["id"], (name, rows, job)
                assert rows[-1]["status"] == job["status"] == "succeeded", (name, rows, job)
            assert {s["status"] for s in steps if s["run_id"] == steps[-1]["run_id"]} <= {
                "succeeded",
                "skipped",
            }
        finally:
            truth.close()
