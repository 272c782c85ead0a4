"""Luigi's tracking URL of a step follows where the run's HTML report really goes:
``--report-html PATH`` replaces the state folder's copy (docs/reports.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from luigi_airbyte.app.report_links import report_location, served_step_link
from luigi_airbyte.app.runtime import Runtime

BASE = "https://ci.example/state/"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nstate_dir: st\n"
        f"reports: {{html: true, base_url: '{BASE}'}}\n"
        "owners: {x: {alerts: []}}\npipelines:\n  p:\n    owner: x\n    steps:\n"
        f"      - command: {{argv: ['{sys.executable}', -c, 'pass']}}\n        name: a\n"
    )
    runtime = Runtime.load(path, env={})
    try:
        yield runtime
    finally:
        runtime.close()


def test_report_html_outside_the_state_folder_leaves_no_served_link(
    rt: Runtime, tmp_path: Path
) -> None:
    path, link = report_location(rt, "run-out", tmp_path / "elsewhere" / "r.html")
    assert link == str(path)  # people get the path
    assert served_step_link(rt, "run-out", "a") == ""  # not <base_url>reports/run-out.html


def test_report_html_inside_the_state_folder_links_its_served_copy(rt: Runtime) -> None:
    _, link = report_location(rt, "run-in", rt.state_dir / "ci" / "last.html")
    assert link == BASE + "ci/last.html"
    assert served_step_link(rt, "run-in", "crm:counts") == link + "#step-crm%3Acounts"


def test_without_report_html_the_state_folder_copy_is_linked(rt: Runtime) -> None:
    _, link = report_location(rt, "run-default", None)
    assert link == BASE + "reports/run-default.html"
    assert served_step_link(rt, "run-default", "a") == link + "#step-a"
    assert served_step_link(rt, "other", "a") == BASE + "reports/other.html#step-a"
