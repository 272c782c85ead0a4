"""``luigi-airbyte quickstart``: the demo runs twice; the second run does nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from luigi_airbyte.cli.app import cli
from luigi_airbyte.store import Store


def test_quickstart_runs_then_skips_everything(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["quickstart", str(target)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "Airbyte jobs created across both runs: 2" in result.output
    assert "| customer | orders | revenue |" in (target / "report.md").read_text()
    # `make demo` ends by printing the path of the demo run's HTML report
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Run report: ") and last.endswith(".html"), last
    assert Path(last.removeprefix("Run report: ")).parent == target / "state" / "reports"
    assert Path(last.removeprefix("Run report: ")).is_file()

    with Store(f"sqlite:///{target / 'state' / 'metadata.db'}") as store:
        first, second = sorted(store.history("demo"), key=lambda r: r.started_at)
        assert first.status == second.status == "succeeded"
        first_run, second_run = store.get_run(first.run_id), store.get_run(second.run_id)
    assert {s.status for s in first_run.steps} == {"succeeded"}
    notes = {s.step_name: s.message or "" for s in first_run.steps}
    # the summary's note: what ran, not "1 records in 4.6s" (TransformResult.summary)
    assert notes["models"].startswith("1 dbt node (1 success) in ")
    assert notes["report"].startswith("exit 0 in ")
    assert notes["report"].endswith("s: wrote report.md: top 5 customers, 1000 events loaded")
    statuses = {s.step_name: s.status for s in second_run.steps}
    # syncs inside their freshness window are "fresh"; every other step already succeeded
    assert statuses["crm"] == statuses["events"] == "fresh"
    assert {v for k, v in statuses.items() if k not in ("crm", "events")} == {"skipped"}
    assert {s.step_name for s in first_run.steps} == set(statuses)
