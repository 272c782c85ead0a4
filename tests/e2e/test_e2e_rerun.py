"""Re-running a date reuses its syncs; another date syncs again; --dry-run tells which."""

from __future__ import annotations

import json

import pytest

from e2e.e2e_helpers import CRM, EVENTS, Project, job_posts, jobs_for


@pytest.mark.slow
def test_rerun_same_date_starts_no_job_and_skips_every_step(project: Project) -> None:
    report = project.root / "first.json"
    first = project.run("--report-json", str(report))
    assert first.returncode == 0, first
    assert job_posts(project.sandbox) == 2
    first_steps = {s["name"]: s for s in json.loads(report.read_text())["steps"]}
    crm_job = first_steps["crm"]["job_id"]
    # the human summary: every step, its job, and the verdict
    for step in first_steps:
        assert step in first.stdout
    assert f"job {crm_job} (created)" in first.stdout
    assert "succeeded" in first.stdout.splitlines()[-2]
    assert first.stdout.splitlines()[-1] == "PASS=5 FAIL=0 SKIPPED=0 (exit 0)"

    again = project.run("--json")

    assert again.returncode == 0, again
    assert job_posts(project.sandbox) == 2, "a re-run of the same date started a sync"
    steps = again.steps()
    assert {name: s["status"] for name, s in steps.items()} == dict.fromkeys(steps, "skipped")
    assert set(steps) == set(first_steps)
    assert f"job {crm_job} already synced this date" in steps["crm"]["message"]

    other_day = project.run("--json", "--date", "2026-01-16")

    assert other_day.returncode == 0, other_day
    assert job_posts(project.sandbox) == 4
    assert len(jobs_for(project.sandbox, CRM)) == len(jobs_for(project.sandbox, EVENTS)) == 2
    assert {s["status"] for s in other_day.steps().values()} == {"succeeded"}


@pytest.mark.slow
def test_dry_run_says_run_then_skip_and_never_syncs(project: Project) -> None:
    before = project.run("--dry-run")

    assert before.returncode == 0, before
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in before.stdout.splitlines()
        if line.startswith("│")
    }
    assert set(rows) == {"crm", "crm:counts", "events", "users_loaded", "report"}
    # columns: kind, after, owner, would
    assert rows["users_loaded"][:2] == ["check", "crm:counts, events"]
    assert rows["report"][1] == "users_loaded"
    assert {cells[-1] for cells in rows.values()} == {"run"}
    assert job_posts(project.sandbox) == 0

    assert project.run().returncode == 0
    posts = job_posts(project.sandbox)
    after = project.run("--dry-run", "--json")

    assert after.returncode == 0, after
    assert after.doc["dry_run"] is True
    assert len(after.doc["steps"]) == 5
    assert {s["would"] for s in after.doc["steps"]} == {"skip (done or fresh)"}
    assert job_posts(project.sandbox) == posts
