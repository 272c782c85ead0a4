"""``run --reload``: a name that is not a sync step is a usage problem of the option,
refused with exit 3 before the store is opened or Airbyte contacted."""

from __future__ import annotations

import json
from pathlib import Path

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
store:
  url: sqlite:///{store}
owners: {{ops: {{}}}}
pipelines:
  nightly:
    owner: ops
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
"""


def test_reload_of_an_unknown_step_is_refused_first(invoke, tmp_path: Path) -> None:
    store = tmp_path / "state.db"
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(store=store), encoding="utf-8")

    result = invoke("run", str(path), "--date", "2026-02-03", "--reload", "crn", "--json")

    assert result.exit_code == 3, result.output
    (problem,) = json.loads(result.stdout)["error"]["problems"]
    assert problem["source"] == "--reload" and problem["field"] == "crn"
    assert "not a sync step of pipeline 'nightly'" in problem["message"]
    assert "crm" in problem["fix"]  # did you mean, and the choices
    assert not store.exists()  # nothing touched
