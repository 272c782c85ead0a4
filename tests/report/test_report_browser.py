"""The demo run's HTML report, opened in a real headless Chromium (issue 13 acceptance).

The quickstart demo runs (its pipeline file has ``reports: {html: true}``); the test
opens the first run's report, takes a screenshot and reads the rendered DOM: one
timeline bar per step in dependency order, rows per stream equal to the store. Then the
same project runs again for another date with a check that cannot pass, and the failed
run's recap (cause and fix) must be on the page, and named by the alert.

Set ``LUIGI_AIRBYTE_DOCS_SCREENSHOT=1`` to also write the screenshot to
docs/images/report.png (what docs/reports.md shows).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console
from tests.report.conftest import Browser, Dom

from luigi_airbyte.cli.app import cli
from luigi_airbyte.cli.quickstart_cmd import write_project
from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.observe import default_redactor
from luigi_airbyte.pipeline import load_pipeline_file
from luigi_airbyte.pipeline.graph import build_graph
from luigi_airbyte.sandbox import Sandbox, load_world
from luigi_airbyte.store import Store
from luigi_airbyte.tasks.context import clear_runtimes

DOCS_PNG = Path(__file__).resolve().parents[2] / "docs" / "images" / "report.png"


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert 10_000 < len(data) < 2_000_000, len(data)


def test_demo_report_in_chromium(tmp_path: Path, browser: Browser) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["quickstart", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # `make demo` ends by printing the path of the demo run's report
    last = result.output.strip().splitlines()[-1]
    match = re.fullmatch(r"Run report: (\S+\.html)", last)
    assert match, last
    page = Path(match.group(1))
    assert page.parent == target / "state" / "reports" and page.exists()

    with Store(f"sqlite:///{target / 'state' / 'metadata.db'}") as store:
        detail = store.get_run(page.stem)
    assert detail.run.status == "succeeded" and len(detail.steps) == 8

    shot = browser.screenshot(page, tmp_path / "demo.png")
    _assert_png(shot)
    dom = Dom(browser.dump_dom(page))

    # one bar per step, every step after the steps it waits for
    bars = [a["data-step"] for a in dom.find("g", "bar")]
    assert sorted(bars) == sorted(s.step_name for s in detail.steps)
    assert len(bars) == len(detail.steps)
    graph = build_graph(load_pipeline_file(target / "pipeline.yaml").pipeline("demo"))
    position = {name: i for i, name in enumerate(bars)}
    for node in graph:
        for dep in node.after:
            assert position[dep] < position[node.name], (dep, node.name, bars)
    # succeeded bars are drawn as running segments; statuses as text too
    assert all(a["data-status"] == "succeeded" for a in dom.find("g", "bar"))
    assert "✓ succeeded" in dom.text

    # rows per stream as in the store
    shown = {
        (a["data-step"], a["data-stream"]): int(a["data-rows"]) for a in dom.find("tr", "stream")
    }
    stored = {(s.step_name, s.stream): s.records_committed for s in detail.stream_stats}
    assert shown == stored and stored
    for (step, stream), rows in stored.items():
        assert f"{step} {stream} {rows:,}" in dom.text

    # header: who ran it, the verdict; no failure recap on a green run
    # (as the run's redactor shows it: another test in this process may have made the
    # sandbox's client id a secret)
    assert detail.run.identity
    assert f"acted as {default_redactor().redact(detail.run.identity)}" in dom.text
    assert dom.find("p") and "✓ No step failed." in dom.text
    assert not dom.find("div", "recap")

    _failed_run(target, tmp_path, browser, stored)


def _failed_run(
    target: Path, tmp_path: Path, browser: Browser, first_rows: dict[tuple[str, str], int]
) -> None:
    """The same project, another date, a check that cannot pass: the recap is visible."""
    world = load_world(target / "world.yaml")
    cwd = os.getcwd()
    with Sandbox(world, state_path=target / "sandbox-state.json") as sandbox:
        pipeline = write_project(target, sandbox)
        text = pipeline.read_text(encoding="utf-8")
        broken = text.replace(
            "select count(*) > 0 from crm_users", "select count(*) < 0 from crm_users"
        ).replace("freshness: 6h", "freshness: 1s")  # sync again: previous rows beside
        assert broken.count("count(*) < 0") == 1 and "freshness: 6h" not in broken
        pipeline.write_text(broken, encoding="utf-8")
        os.chdir(target)
        try:
            code, doc = execute_run(
                pipeline,
                run_date=dt.date(2026, 1, 2),
                console=Console(file=open(os.devnull, "w")),  # noqa: SIM115
            )
        finally:
            os.chdir(cwd)
            clear_runtimes()
    assert code == 6, doc
    page = Path(doc["html_report"])
    assert page.exists()

    # the alert names the report
    alerts = [json.loads(line) for line in (target / "alerts.jsonl").read_text().splitlines()]
    failing = [a for a in alerts if a.get("step") == "users_loaded"]
    link = f"{page}#failure-users_loaded"  # straight to the step's recap
    assert failing and all(a["links"].get("report") == link for a in failing), failing

    dom = Dom(browser.dump_dom(page))
    recaps = dom.find("div", "recap")
    assert [r["data-step"] for r in recaps] == ["users_loaded"]
    assert [r["id"] for r in recaps] == ["failure-users_loaded"]
    assert "✗ FAILED: users_loaded" in dom.text
    assert "Cause:" in dom.text and "Fix:" in dom.text and "query returned False" in dom.text
    bars = {a["data-step"]: a["data-status"] for a in dom.find("g", "bar")}
    assert bars["users_loaded"] == "failed"
    assert bars["models"] == bars["report"] == "upstream_failed"
    assert "⊘ upstream failed" in dom.text  # text, not only colour
    assert "script" not in dom.tags()
    # the syncs ran again: each stream shows the first run's rows beside its own
    previous = {
        (a["data-step"], a["data-stream"]): a["data-previous"] for a in dom.find("tr", "stream")
    }
    assert previous == {key: str(rows) for key, rows in first_rows.items()}

    shot = browser.screenshot(page, tmp_path / "failed.png")
    _assert_png(shot)
    if os.environ.get("LUIGI_AIRBYTE_DOCS_SCREENSHOT"):
        DOCS_PNG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_PNG)
