"""``luigi --module luigi_airbyte.tasks AirbyteSyncTask``: settings from luigi.cfg + env."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from e2e.e2e_helpers import CRM, EVENTS, VENV_BIN, Project, clean_env, job_posts, jobs_for
from luigi_airbyte.store import Store


def _luigi(project: Project, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(VENV_BIN / "luigi"),
            "--module",
            "luigi_airbyte.tasks",
            "AirbyteSyncTask",
            "--connection",
            EVENTS,
            "--run-date",
            "2026-01-15",
            "--local-scheduler",
        ],
        cwd=cwd,
        env=clean_env(
            LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET=f"file:{project.secret_file}",
            LUIGI_AIRBYTE_POLL__INTERVAL="1s",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sync_task_from_the_luigi_command_line(project: Project, tmp_path: Path) -> None:
    work = tmp_path / "adhoc"
    work.mkdir()
    (work / "luigi.cfg").write_text(
        "[airbyte]\n"
        f"url = {project.sandbox.url}\n"
        "auth_type = client_credentials\n"
        f"auth_client_id = {project.sandbox.client_id}\n"
        "state_dir = state\n",
        encoding="utf-8",
    )

    first = _luigi(project, work)

    assert first.returncode == 0, first.stderr
    assert "1 ran successfully" in first.stderr, first.stderr
    jobs = jobs_for(project.sandbox, EVENTS)
    assert len(jobs) == 1 and jobs[0]["status"] == "succeeded"
    assert (work / "state" / "metadata.db").exists()
    with Store(f"sqlite:///{work / 'state' / 'metadata.db'}") as store:
        run = store.latest_run("adhoc")
        assert run is not None and run.run.status == "succeeded"
        assert [s.step_name for s in run.steps] == [EVENTS]  # named after the connection
        assert run.steps[0].job_id == jobs[0]["jobId"]
    assert project.sandbox.client_secret not in first.stderr + first.stdout

    second = _luigi(project, work)

    assert second.returncode == 0, second.stderr
    assert "complete ones were encountered" in second.stderr, second.stderr
    assert "ran successfully" not in second.stderr
    assert job_posts(project.sandbox) == 1


def test_a_pipeline_task_from_the_luigi_command_line_is_one_run(
    make_project: Callable[..., Project],
) -> None:
    """Each step closed the run record when it ended (plain Luigi has no end to close it
    at), and the next step opened a new one: one PipelineTask left a run per step."""
    project = make_project(faults={"jobs": {CRM: {"fail_attempts": 5}}}, max_attempts=1)
    project.write(
        [{"sync": "crm", "connection": CRM}, {"sync": "events", "connection": EVENTS}],
        warehouse=False,
    )

    done = subprocess.run(
        [
            str(VENV_BIN / "luigi"),
            "--module",
            "luigi_airbyte.tasks",
            "PipelineTask",
            "--pipeline-file",
            str(project.path),
            "--pipeline",
            project.pipeline_name,
            "--run-date",
            "2026-01-15",
            "--local-scheduler",
        ],
        cwd=project.root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert "1 failed" in done.stderr, done.stderr[-3000:]
    with Store(f"sqlite:///{project.state_dir / 'metadata.db'}") as store:
        runs = store.history(project.pipeline_name, 10)
        assert len(runs) == 1, runs
        run = store.get_run(runs[0].run_id)
    assert sorted(s.step_name for s in run.steps) == ["crm", "events"], run.steps
    assert (run.run.status, run.run.exit_code) == ("failed", 5), run.run
