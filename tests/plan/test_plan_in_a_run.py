"""In a run: the drift check's failure names `luigi-airbyte apply … --connection …`, and the
alert and the run's recap carry it; after that command the same run passes its drift check."""

from __future__ import annotations

import datetime as dt
import json
import os

from plan_helpers import CRM, Project
from rich.console import Console

from luigi_airbyte.cli.run_cmd import execute_run


def _run(project: Project, day: int) -> tuple[int, dict[str, object]]:
    with open(os.devnull, "w") as sink:
        return execute_run(project.path, run_date=dt.date(2026, 4, day), console=Console(file=sink))


def test_drift_in_airbyte_names_apply_as_the_fix(project: Project) -> None:
    streams = project.connection(CRM)["configurations"]["streams"]
    streams[0]["syncMode"] = "full_refresh_overwrite"
    project.patch(CRM, {"configurations": {"streams": streams}})

    code, doc = _run(project, 2)

    command = f"luigi-airbyte apply {project.path} --connection '{CRM}'"
    assert code == 6
    recap = json.dumps(doc, ensure_ascii=False)
    assert command in recap, recap
    alerts = (project.root / "alerts.jsonl").read_text(encoding="utf-8")
    assert command in alerts

    applied = project.apply("--yes", "--connection", CRM)
    assert applied.exit_code == 0, applied.stdout
    code, doc = _run(project, 3)
    drift = [s for s in doc["steps"] if "drift" in str(s["name"])]  # type: ignore[union-attr]
    assert drift and all(s["status"] == "succeeded" for s in drift), drift
