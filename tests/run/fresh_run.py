"""A check-only pipeline run by a probe script in a fresh interpreter, for tests of what a
run imports (``test_run_lazy_imports``, ``test_run_lean_luigi``): in the test process an
earlier test has imported most things already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
  auth: {type: client_credentials, client_id: x, client_secret: "env:FRESH_RUN_SECRET"}
state_dir: state
warehouses:
  main: {url: "duckdb:///wh.duckdb"}
owners:
  data: {alerts: ["jsonl:alerts.jsonl"]}
pipelines:
  p:
    owner: data
    steps:
      - check: a
        sql: {warehouse: main, query: "select true"}
"""


def run_probe(tmp_path: Path, probe: str, *args: str) -> dict[str, object]:
    """Write ``PIPELINE`` and its warehouse into ``tmp_path``, run ``probe`` there with
    ``args``, and return the JSON object on its last line of output."""
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    duckdb.connect(str(tmp_path / "wh.duckdb")).close()  # the warehouse the check asks
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
        env={"FRESH_RUN_SECRET": "s", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
