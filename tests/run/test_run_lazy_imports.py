"""A run imports what it uses (issue 10, start-up): the HTML report's renderer (~8 ms)
only when it writes or links a report, the drift plan (~4 ms) only for a drift check,
the dbt/Spark/command runners (~6 ms) only for a transform step, the webhook receiver
(``http.server``, ~3 ms) only when the run receives Airbyte's pushes itself.
Deterministic: a fresh interpreter runs a pipeline, then lists what it imported."""

from __future__ import annotations

from pathlib import Path

from run.fresh_run import run_probe

PROBE = """
import datetime as dt, json, sys
from pathlib import Path
from luigi_airbyte.cli.run_cmd import execute_run
html = Path(sys.argv[1]) if sys.argv[1] else None
code, doc = execute_run(Path("pipeline.yaml"), run_date=dt.date(2026, 11, 24),
                        skip_preflight=True, as_json=True, report_html=html)
lazy = (
    "luigi_airbyte.store.html_report",
    "luigi_airbyte.app.plan",
    "luigi_airbyte.transforms",
    "luigi_airbyte.app.webhook_receiver",
)
print(json.dumps({"code": code, "loaded": [m for m in lazy if m in sys.modules]}))
"""


def test_a_run_without_a_report_or_drift_check_does_not_import_their_code(
    tmp_path: Path,
) -> None:
    assert run_probe(tmp_path, PROBE, "") == {"code": 0, "loaded": []}


def test_a_run_that_writes_its_html_report_imports_the_renderer(tmp_path: Path) -> None:
    got = run_probe(tmp_path, PROBE, str(tmp_path / "report.html"))
    assert got == {"code": 0, "loaded": ["luigi_airbyte.store.html_report"]}
    assert (tmp_path / "report.html").read_text().startswith("<!")
