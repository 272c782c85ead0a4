"""A failed check exits 6 and a failed transform exits 7; nothing downstream runs."""

from __future__ import annotations

import sys

from e2e.e2e_helpers import Project, default_steps, job_posts


def _with_marker_step(steps: list[dict[str, object]], project: Project) -> None:
    """A last step that would leave a file behind if it ran."""
    marker = project.root / "downstream-ran"
    steps.append(
        {
            "command": {"argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]},
            "name": "downstream",
            "after": ["report"],
        }
    )


def test_failed_sql_check_exits_6(project: Project) -> None:
    steps = default_steps()
    steps[2]["sql"]["query"] = "select count(*) < 0 from crm_users"  # type: ignore[index]
    _with_marker_step(steps, project)
    project.write(steps)

    # two workers: Luigi's retry of the check runs in another process than the first try
    result = project.run("--json", "--workers", "2")

    assert result.returncode == 6, result
    got = result.steps()
    assert got["users_loaded"]["status"] == "failed"
    assert got["users_loaded"]["checks"][0]["passed"] is False
    assert got["crm"]["status"] == got["events"]["status"] == "succeeded"
    assert got["report"]["status"] == got["downstream"]["status"] == "upstream_failed"
    assert not (project.root / "downstream-ran").exists()
    assert job_posts(project.sandbox) == 2
    alerts = project.alert_lines()
    assert len(alerts) == 1, alerts
    assert alerts[0]["step"] == "users_loaded" and alerts[0]["kind"] == "check-failure"


def test_failed_command_exits_7(project: Project) -> None:
    steps = default_steps()
    steps[3]["command"] = {"argv": [sys.executable, "-c", "import sys; sys.exit(3)"]}
    _with_marker_step(steps, project)
    project.write(steps)

    result = project.run("--json")

    assert result.returncode == 7, result
    got = result.steps()
    assert got["report"]["status"] == "failed"
    assert got["users_loaded"]["status"] == "succeeded"
    assert got["downstream"]["status"] == "upstream_failed"
    assert not (project.root / "downstream-ran").exists()
    assert got["report"]["exit_code"] == 7, got["report"]
    assert not got["report"]["message"].startswith("[exit"), got["report"]
    assert "exited with code 3" in got["report"]["message"]
    alerts = project.alert_lines()
    assert len(alerts) == 1 and alerts[0]["step"] == "report", alerts
