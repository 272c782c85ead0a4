"""The HTML renderer without a browser: escaping, secrets, order, size, trends, links."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.report.conftest import Browser, Dom

from luigi_airbyte.app.identity import jwt_subject
from luigi_airbyte.store import (
    CheckRecord,
    EventRecord,
    RunDetail,
    RunSummary,
    StepRecord,
    Store,
    StreamStatRecord,
    junit_xml,
)
from luigi_airbyte.store.html_report import (
    StepPlan,
    render_run_html,
    render_trends_html,
    stream_events,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)

HOSTILE_STEP = '<img src=x onerror="alert(1)">'
HOSTILE_STREAM = "\"><script>alert('stream')</script>"
HOSTILE_CONN = "</title><script>alert('conn')</script>"
HOSTILE_URL = "javascript:alert('job')"


def _bench() -> object:
    spec = importlib.util.spec_from_file_location(
        "report_render", ROOT / "benchmarks" / "report_render.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["report_render"] = module
    spec.loader.exec_module(module)
    return module


def _hostile_run() -> tuple[RunDetail, list[EventRecord], dict[str, StepPlan]]:
    run_id = "11111111-2222-4333-8444-555555555555"
    steps = (
        StepRecord(
            run_id,
            HOSTILE_STEP,
            "sync",
            "failed",
            T0,
            T0 + timedelta(seconds=5),
            job_id=7,
            rows=3,
            message="[exit 5] <b>boom</b> at postgresql://u:hunter2@db/x",
        ),
        StepRecord(run_id, "after<i>", "check", "upstream_failed", message="<svg onload=alert(2)>"),
    )
    stats = (StreamStatRecord(run_id, HOSTILE_STEP, 7, HOSTILE_STREAM, "<ns>", 3, 3),)
    checks = (
        CheckRecord(
            run_id,
            "after<i>",
            f"drift:{HOSTILE_CONN}",
            False,
            "error",
            "<u>x</u>",
            {"expected": "<e>", "actual": "<a>", "tolerance": "<t>"},
            T0,
        ),
    )
    summary = RunSummary(
        run_id,
        "<pipe>",
        T0.date(),
        "failed",
        T0,
        T0 + timedelta(seconds=9),
        5,
        host="<host>",
        argv="run --x '<y>'",
        identity="<who>",
        step_counts={"failed": 1, "upstream_failed": 1},
    )
    events = [
        EventRecord(
            run_id,
            T0,
            "sync.triggered",
            "info",
            {"step": HOSTILE_STEP, "job_url": HOSTILE_URL, "connection_id": HOSTILE_CONN},
        ),
    ]
    plan = {
        HOSTILE_STEP: StepPlan(connection=HOSTILE_CONN),
        "after<i>": StepPlan(after=(HOSTILE_STEP,)),
    }
    return RunDetail(summary, steps, stats, checks), events, plan


def _assert_inert(page: str) -> Dom:
    dom = Dom(page)
    assert {"script", "img", "iframe", "object", "embed", "link", "b", "u", "i"}.isdisjoint(
        dom.tags()
    )
    for _, attrs in dom.elements:
        assert not any(name.startswith("on") for name in attrs), attrs
        assert not attrs.get("href", "").lower().startswith("javascript")
    for text in (HOSTILE_STEP, HOSTILE_STREAM, HOSTILE_CONN, "<pipe>", "<who>", "<b>boom</b>"):
        assert text in dom.text, text
    return dom


def test_hostile_names_render_as_text() -> None:
    detail, events, plan = _hostile_run()
    page = render_run_html(detail, events=events, plan=plan)
    _assert_inert(page)
    assert "<script" not in page.lower()
    assert HOSTILE_URL not in page.split("<body>", 1)[1].split('href="', 1)[-1][:40]


def test_hostile_names_render_as_text_in_chromium(browser: Browser, tmp_path: Path) -> None:
    detail, events, plan = _hostile_run()
    page = tmp_path / "hostile.html"
    page.write_text(render_run_html(detail, events=events, plan=plan), encoding="utf-8")
    dom = _assert_inert(browser.dump_dom(page))
    # the browser built the page we wrote: hostile names are text nodes in their rows
    assert [a["data-step"] for a in dom.find("g", "bar")] == [HOSTILE_STEP, "after<i>"]
    assert [a["data-stream"] for a in dom.find("tr", "stream")] == [f"<ns>.{HOSTILE_STREAM}"]


def test_no_secret_reaches_the_page() -> None:
    detail, events, plan = _hostile_run()
    secret = "s3cr3t-token-value"
    step = replace(
        detail.steps[0],
        message=f"[exit 5] Authorization: Bearer {secret} to postgresql://u:hunter2@db/x",
    )
    detail = replace(detail, steps=(step, *detail.steps[1:]))
    page = render_run_html(
        detail, events=events, plan=plan, redact=lambda t: t.replace(secret, "***")
    )
    assert secret not in page and "hunter2" not in page
    assert "Bearer ***" in page


def test_timeline_follows_dependencies_not_store_order() -> None:
    run_id = "r" * 8
    # recorded in reverse: the step that waits comes first in the store
    steps = tuple(
        StepRecord(
            run_id,
            name,
            "command",
            "succeeded",
            T0 + timedelta(seconds=i),
            T0 + timedelta(seconds=i + 1),
        )
        for i, name in ((2, "c"), (1, "b"), (0, "a"))
    )
    summary = RunSummary(run_id, "p", T0.date(), "succeeded", T0, T0 + timedelta(seconds=4), 0)
    plan = {"a": StepPlan(), "b": StepPlan(after=("a",)), "c": StepPlan(after=("b",))}
    detail = RunDetail(summary, steps)
    bars = [a["data-step"] for a in Dom(render_run_html(detail, plan=plan)).find("g", "bar")]
    assert bars == ["a", "b", "c"]
    # with a dependency against start order, the dependency wins
    plan["a"] = StepPlan(after=("c",))
    plan["c"] = StepPlan()
    bars = [a["data-step"] for a in Dom(render_run_html(detail, plan=plan)).find("g", "bar")]
    assert bars == ["c", "a", "b"]


def test_waiting_and_queued_segments_come_from_dependencies() -> None:
    run_id = "q" * 8
    steps = (
        StepRecord(run_id, "a", "sync", "succeeded", T0, T0 + timedelta(seconds=10)),
        StepRecord(
            run_id,
            "b",
            "check",
            "succeeded",
            T0 + timedelta(seconds=15),
            T0 + timedelta(seconds=16),
        ),
    )
    summary = RunSummary(run_id, "p", T0.date(), "succeeded", T0, T0 + timedelta(seconds=20), 0)
    page = render_run_html(RunDetail(summary, steps), plan={"b": StepPlan(after=("a",))})
    b = page.split('data-step="b"', 1)[1].split("</g>", 1)[0]
    assert "waiting for a dependency 10.0s" in b and "queued (waiting for a worker) 5.0s" in b


def test_a_thousand_steps_stay_under_five_megabytes() -> None:
    bench = _bench()
    detail, events, previous, plan = bench.synthetic_run(1000)  # type: ignore[attr-defined]
    page = render_run_html(detail, events=events, previous=previous, plan=plan)
    assert len(page.encode("utf-8")) < 5 * 1024 * 1024
    assert page.count('class="bar"') == 1000


def test_trends_mark_zero_rows_and_sharp_drops() -> None:
    runs = []
    for day, rows in enumerate([1000, 1010, 990, 1005, 300, 0, 1000]):
        run_id = f"run{day:05d}"
        start = T0 + timedelta(days=day)
        summary = RunSummary(
            run_id, "p", start.date(), "succeeded", start, start + timedelta(seconds=60), 0
        )
        step = StepRecord(
            run_id, "<crm>", "sync", "succeeded", start, start + timedelta(seconds=30 + day)
        )
        stat = StreamStatRecord(run_id, "<crm>", day, "users", None, rows, rows)
        runs.append(RunDetail(summary, (step,), (stat,)))
    found = [(m.run_id, m.kind) for m in stream_events(runs)]
    assert found == [("run00004", "sharp drop"), ("run00005", "zero rows")]
    page = render_trends_html(runs, pipeline="p", days=30)
    dom = Dom(page)
    assert [a["data-kind"] for a in dom.find("tr", "trend-event")] == ["sharp drop", "zero rows"]
    assert len(dom.find("circle", "pt-warn")) == 1 and len(dom.find("circle", "pt-bad")) == 1
    assert "⚠ 1 sharp drop, ⚠ 1 zero rows" in dom.text and "<crm>" in dom.text
    assert [a["data-step"] for a in dom.find("tr", "trend-step")] == ["<crm>"]


def test_history_html_writes_trends_from_the_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from luigi_airbyte.cli.app import cli

    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Store(url) as store:
        for rows in (100, 0):
            rid = store.start_run("nightly", T0.date(), identity="client abc")
            store.upsert_step(
                rid, "crm", kind="sync", status="succeeded", started_at=datetime.now(timezone.utc)
            )
            store.add_stream_stats(rid, "crm", 1, [{"stream": "users", "records_committed": rows}])
            store.finish_run(rid, "succeeded", 0)
    out = tmp_path / "trends.html"
    result = CliRunner().invoke(
        cli, ["history", "--store-url", url, "--html", str(out), "--days", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "client abc" in result.output  # who ran it
    dom = Dom(out.read_text(encoding="utf-8"))
    assert [a["data-kind"] for a in dom.find("tr", "trend-event")] == ["zero rows"]


def test_report_command_writes_the_page(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from luigi_airbyte.cli.app import cli

    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Store(url) as store:
        rid = store.start_run("nightly", T0.date(), host="ci-7", identity="token sub svc-etl")
        store.upsert_step(rid, "crm", kind="sync", status="failed", message="[exit 5] job failed")
        store.finish_run(rid, "failed", 5)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", rid[:8], "--store-url", url, "--html", str(out)])
    assert result.exit_code == 0, result.output
    dom = Dom(out.read_text(encoding="utf-8"))
    assert "token sub svc-etl" in dom.text and "ci-7" in dom.text
    assert [a["data-step"] for a in dom.find("div", "recap")] == ["crm"]
    nowhere = tmp_path / "nowhere.html"
    missing = CliRunner().invoke(
        cli, ["report", "ffffffff", "--store-url", url, "--html", str(nowhere)]
    )
    shown = CliRunner().invoke(cli, ["show", "ffffffff", "--store-url", url])
    assert missing.exit_code == shown.exit_code != 0  # the same error as `show`
    assert "no run ffffffff" in missing.output and not nowhere.exists()


def test_junit_names_the_html_report() -> None:
    detail, _, _ = _hostile_run()
    assert 'name="html_report" value="https://ci/state/reports/x.html"' in junit_xml(
        detail, html_report="https://ci/state/reports/x.html"
    )
    assert "html_report" not in junit_xml(detail)


def test_jwt_subject() -> None:
    def part(doc: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    token = f"{part({'alg': 'none'})}.{part({'sub': 'svc-etl', 'exp': 1})}.sig"
    assert jwt_subject(token) == "svc-etl"
    assert jwt_subject("opaque-token") is None
    assert jwt_subject(f"{part({})}.{part({'aud': 'x'})}.s") is None


@pytest.mark.parametrize("base_url", ["ftp://x/", "not a url"])
def test_reports_base_url_is_validated(tmp_path: Path, base_url: str) -> None:
    from luigi_airbyte.errors import ConfigError
    from luigi_airbyte.pipeline import load_pipeline_file

    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nreports: {html: true, base_url: '" + base_url + "'}\n"
        "owners: {x: {alerts: []}}\npipelines:\n  p:\n    owner: x\n    steps:\n"
        "      - command: {argv: [echo]}\n        name: a\n"
    )
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(path)
    assert "reports.base_url" in str(info.value)


def test_report_location_links_through_base_url(tmp_path: Path) -> None:
    from luigi_airbyte.app.report_links import report_location
    from luigi_airbyte.app.runtime import Runtime

    path = tmp_path / "p.yaml"
    body = (
        "owners: {x: {alerts: []}}\npipelines:\n  p:\n    owner: x\n    steps:\n"
        "      - command: {argv: [echo]}\n        name: a\n"
    )
    path.write_text("version: 1\nstate_dir: st\n" + body)
    rt = Runtime.load(path)
    assert report_location(rt, "r1", None) == (None, "")
    path.write_text(
        "version: 1\nstate_dir: st\nreports: {html: true, base_url: 'https://ci.example/state/'}\n"
        + body
    )
    rt = Runtime.load(path)
    where, link = report_location(rt, "r1", None)
    assert where == (tmp_path / "st" / "reports" / "r1.html").resolve()
    assert link == "https://ci.example/state/reports/r1.html"
    elsewhere, link = report_location(rt, "r1", tmp_path / "out.html")
    assert elsewhere == (tmp_path / "out.html").resolve() and link == str(elsewhere)


def test_the_page_fetches_nothing_and_suits_dark_mode_and_print() -> None:
    detail, events, plan = _hostile_run()
    page = render_run_html(detail, events=events, plan=plan)
    trends = render_trends_html([detail], pipeline="p", days=30)
    for text in (page, trends):
        dom = Dom(text)
        assert {"script", "link", "img", "iframe"}.isdisjoint(dom.tags())
        assert not any("src" in attrs for _, attrs in dom.elements)
        assert "@import" not in text and "url(http" not in text
        assert "@media (prefers-color-scheme:dark)" in text and "@media print" in text
        assert "default-src 'none'" in text


def test_luigi_tracking_url_points_at_the_steps_row(tmp_path: Path) -> None:
    import datetime as dt

    from luigi_airbyte.app.report_links import served_step_link
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.app.step_context import StepContext

    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nstate_dir: st\n"
        "reports: {html: true, base_url: 'https://ci.example/state/'}\n"
        "owners: {x: {alerts: []}}\npipelines:\n  p:\n    owner: x\n    steps:\n"
        f"      - command: {{argv: ['{sys.executable}', -c, 'pass']}}\n        name: a\n"
    )

    class Reporter:
        def __init__(self) -> None:
            self.urls: list[str] = []

        def tracking_url(self, url: str) -> None:
            self.urls.append(url)

        def status(self, message: str) -> None: ...

        def progress(self, percent: float) -> None: ...

    rt = Runtime.load(path, env={})
    try:
        assert served_step_link(rt, "r1", "crm:counts") == (
            "https://ci.example/state/reports/r1.html#step-crm%3Acounts"
        )
        reporter = Reporter()
        node = rt.graph("p").node("a")
        rt.executor().run(StepContext("p", "a", dt.date(2026, 1, 2)), node, reporter)
        run_id = rt.store().history("p")[0].run_id
        assert reporter.urls == [f"https://ci.example/state/reports/{run_id}.html#step-a"]
    finally:
        rt.close()
