"""Several Luigi worker processes on the local scheduler: still one sync per connection."""

from __future__ import annotations

import json

import pytest

from e2e.e2e_helpers import CRM, EVENTS, Project, job_posts, jobs_for


@pytest.mark.slow
def test_two_local_workers_sync_each_connection_once(project: Project) -> None:
    result = project.run("--workers", "2", "--json")

    assert result.returncode == 0, result
    assert {s["status"] for s in result.steps().values()} == {"succeeded"}
    assert len(jobs_for(project.sandbox, CRM)) == 1
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    assert job_posts(project.sandbox) == 2
    # what the task processes emitted reached the events file (a forked worker leaves
    # through os._exit: its queued or buffered events were lost before)
    events = project.state_dir / "events.jsonl"
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    succeeded = [e for e in lines if e["event"] == "sync.succeeded"]
    assert len(succeeded) == 2, [e["event"] for e in lines]

    again = project.run("--workers", "2", "--json")
    assert again.returncode == 0, again
    assert job_posts(project.sandbox) == 2
