"""A relative ``jsonl:`` route resolves against the pipeline file's folder, like every
other relative path in the file, not against the current directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.observe import Alert
from luigi_airbyte.observe.events import Event

PIPELINE = """\
version: 1
state_dir: state
owners:
  data-platform: {alerts: ["jsonl:out/alerts.jsonl"]}
events: ["jsonl:out/events.jsonl"]
pipelines:
  nightly:
    owner: data-platform
    steps: [{sync: crm, connection: CRM}]
"""


def test_relative_routes_resolve_against_the_pipeline_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "out").mkdir(parents=True)
    (project / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    rt = Runtime.load("../project/pipeline.yaml")
    try:
        result = rt.router().alert(
            Alert(owner_role="data-platform", severity="error", title="t", text="x", run_id="r")
        )
        rt.bus().emit(Event("probe", {"run_id": ""}))
        rt.bus().flush()
    finally:
        rt.close()

    assert result.ok, result
    alerts = project / "out" / "alerts.jsonl"
    assert [json.loads(line)["title"] for line in alerts.read_text().splitlines()] == ["t"]
    assert "probe" in (project / "out" / "events.jsonl").read_text()
    assert not (elsewhere / "out").exists()
