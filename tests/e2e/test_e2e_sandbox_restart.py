"""The quickstart's next step restarts the sandbox without ``--state``: job ids must not
start again at 1 while the warehouse holds rows tagged with those sync ids, or every
later counts check fails with a false "duplicates, or another writer"."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from e2e.e2e_helpers import CRM, Project, connection_id, jobs_for, world_data
from luigi_airbyte.sandbox import Sandbox, world_from_dict


def _sync_ids(sandbox: Sandbox) -> set[int]:
    """Every ``_airbyte_meta.sync_id`` in the CRM connection's destination tables."""
    cid = connection_id(sandbox, CRM)
    found: set[int] = set()
    for stream in ("users", "orders"):
        for row in sandbox.engine.destination_rows(cid, stream):
            found.add(int(json.loads(row["_airbyte_meta"])["sync_id"]))
    return found


def test_restart_without_state_never_reuses_a_sync_id_in_the_destination(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> None:
    world = world_from_dict(world_data(), source="restart", base_dir=tmp_path / "data")
    first = airbyte_sandbox_factory(world)  # no state file, like `sandbox serve --world`
    project = Project(tmp_path / "project", first)
    project.write()
    assert project.run("--json", date="2026-01-15").returncode == 0
    before = _sync_ids(first)
    assert before, "the first life wrote rows"
    first.stop()

    second = airbyte_sandbox_factory(world)  # the same warehouse, a fresh sandbox
    project.sandbox = second
    project.write_secret(second.client_secret)
    project.write()
    result = project.run("--json", date="2026-01-16")

    assert result.returncode == 0, result  # the counts check passes
    assert result.steps()["crm:counts"]["status"] == "succeeded"
    new_jobs = {j["jobId"] for j in jobs_for(second, CRM)}
    assert new_jobs and min(new_jobs) > max(before), (new_jobs, before)
