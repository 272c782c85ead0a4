"""kill -9 of a whole `luigi-airbyte run` at each sync boundary, then a re-run.

The runner-level tests (tests/integration/test_sync_killed_boundaries.py) show one job per
run key at every boundary; these show the same through the real CLI, and that the run
records close: the re-run exits 0, the killed run is `abandoned`, and no run or step is
left `running`.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import CRM, EVENTS, Project, finish, jobs_for, wait_for


def _cli_json(project: Project, *args: str) -> dict[str, Any]:
    done = project.cli(*args, "-f", str(project.path), "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    return done.doc


@pytest.mark.slow
@pytest.mark.parametrize("boundary", ["claimed", "intent", "posted"])
def test_kill_9_at_a_sync_boundary_then_rerun(
    boundary: str, make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project()
    marker = tmp_path / "paused"
    first = project.start(
        LUIGI_AIRBYTE_TEST_PAUSE_AT=boundary, LUIGI_AIRBYTE_TEST_PAUSE_FILE=str(marker)
    )
    try:
        wait_for(marker.exists, timeout=90, what=f"the run to pause at {boundary!r}")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
    finish(first)
    assert first.returncode == -signal.SIGKILL

    rerun = project.run()

    assert rerun.returncode == 0, rerun
    assert len(jobs_for(project.sandbox, CRM)) == 1
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    runs = _cli_json(project, "history")["runs"]
    assert [r["status"] for r in runs] == ["succeeded", "abandoned"], runs
    for run in runs:
        steps = _cli_json(project, "show", run["run_id"])["steps"]
        assert "running" not in {s["status"] for s in steps}, steps
