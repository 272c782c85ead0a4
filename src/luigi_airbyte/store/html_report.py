"""The run report as one self-contained HTML file (the trend report: ``html_trends``).

See docs/reports.md.

Everything is drawn here, in Python, from store records: inline CSS, charts as inline
SVG, no script, no font, no image and no link to fetch. The file opens the same offline,
in a mail client's preview and in a CI artefact viewer, in dark and light mode and on
paper. Every value passes through ``_e`` (URL passwords masked, the caller's redactor,
then HTML-escaped), so a stream called ``<script>`` is shown as text.

What the pipeline file knows and the store does not (which step waits for which, the
connection of a sync, a dbt step's models) comes in as plain ``StepPlan`` values; the
report still renders without them, with the gaps stated in the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from luigi_airbyte.store._html import (
    _STATUS_TEXT,
    Redact,
    StepPlan,
    _num,
    _page,
    _secs,
    _short,
    _stream_name,
    _Text,
    _when,
)
from luigi_airbyte.store.anchors import step_anchor
from luigi_airbyte.store.html_timeline import (
    _bars,
    _dependency_order,
    _legend,
    _step_events,
    _timeline_svg,
)
from luigi_airbyte.store.html_trends import TrendEvent, render_trends_html, stream_events
from luigi_airbyte.store.reports import _atomic_write, step_duration
from luigi_airbyte.store.runs import (
    CheckRecord,
    EventRecord,
    RunDetail,
    StepRecord,
    StreamStatRecord,
)

__all__ = [
    "StepPlan",
    "TrendEvent",
    "step_anchor",
    "render_run_html",
    "render_trends_html",
    "stream_events",
    "write_html",
]


_EXIT_PREFIX = re.compile(r"^\[exit (\d+)\]\s*")
_TRANSFORMS = ("dbt", "spark", "command")
_BAD = ("failed", "upstream_failed", "not_run")

_FIX = {
    "sync": "open the Airbyte job (link in the sync section), fix the source or destination, "
    "then run the same date again: the run attaches to or reuses the job",
    "check": "inspect the data and the expectation; fix the connection or the expectation, "
    "then run the same date again",
    "dbt": "read the dbt output above, fix the model, then run the same date again",
    "spark": "read the Spark driver output, fix the application, then run the same date again",
    "command": "read the command's output, fix it, then run the same date again",
}


# --- sections ---------------------------------------------------------------------------


def _header(detail: RunDetail, e: _Text, report_url: str | None) -> str:
    run = detail.run
    ok = run.status == "succeeded" and (run.exit_code in (0, None))
    verdict = "✓ succeeded" if ok else f"✗ {run.status.upper()}"
    counts = ", ".join(f"{n} {st}" for st, n in sorted(run.step_counts.items()))
    rows = [
        ("run id", f'<span class="mono" id="run-id">{e(run.run_id)}</span>'),
        ("date", e(run.run_date.isoformat() if run.run_date else "—")),
        (
            "verdict",
            f'<span class="verdict {"ok" if ok else "bad"}" id="verdict">{e(verdict)}</span>',
        ),
        (
            "exit code",
            f'<span id="exit-code">{e("—" if run.exit_code is None else run.exit_code)}</span>',
        ),
        ("duration", e(_secs(run.duration_s))),
        ("started", e(_when(run.started_at))),
        ("finished", e(_when(run.finished_at))),
        ("ran on", f'<span id="host">{e(run.host or "—")}</span>'),
        ("acted as", f'<span id="identity">{e(run.identity or "— (not recorded)")}</span>'),
        ("scheduler", e(run.scheduler or "—")),
        ("command", f"<code>{e(run.argv or '—')}</code>"),
        ("steps", e(counts or "none")),
    ]
    if run.message:
        rows.append(("message", e(run.message)))
    if report_url:
        rows.append(("this report", e.link(report_url, report_url)))
    meta = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return (
        f'<header><h1>{e(run.pipeline)} <span class="muted">· run report</span></h1>'
        f'<dl class="meta">{meta}</dl></header>'
    )


def _sync_info(
    step: StepRecord, evs: Mapping[str, EventRecord]
) -> tuple[str, str, str, int | None]:
    """(job url, how, connection id, attempts) from the step's events."""
    url = how = conn = ""
    attempts: int | None = None
    for name in ("sync.triggered", "sync.attached", "sync.job"):
        ev = evs.get(name)
        if ev is None:
            continue
        url = url or str(ev.fields.get("job_url") or "")
        how = how or ("triggered" if name == "sync.triggered" else str(ev.fields.get("how") or ""))
        conn = conn or str(ev.fields.get("connection_id") or "")
    for name in ("sync.succeeded", "sync.failed", "sync.rejected", "sync.cancelled"):
        ev = evs.get(name)
        if ev is not None and isinstance(ev.fields.get("attempts"), int):
            attempts = int(ev.fields["attempts"])
    if how and how != "triggered":
        how = f"attached ({how})"
    return url, how, conn, attempts


def _syncs(
    detail: RunDetail,
    per_step: Mapping[str, Mapping[str, EventRecord]],
    plan: Mapping[str, StepPlan],
    previous: Mapping[tuple[str, str], Sequence[tuple[str, datetime, int]]],
    e: _Text,
) -> str:
    syncs = [s for s in detail.steps if s.kind == "sync"]
    by_step: dict[str, list[StreamStatRecord]] = {}
    for stat in detail.stream_stats:
        by_step.setdefault(stat.step_name, []).append(stat)
    out = ['<section id="syncs"><h2>Syncs</h2>']
    if not syncs:
        out.append('<p class="note">This run has no sync steps.</p>')
    rows: list[str] = []
    for s in syncs:
        out.append(_sync_meta(s, per_step.get(s.step_name, {}), plan, e))
        rows += [
            _stream_row(s, st, previous.get((s.step_name, _stream_name(st)), ()), e)
            for st in by_step.get(s.step_name, ())
        ]
    if rows:
        out.append(
            '<h3>Rows and bytes per stream</h3><table id="streams"><thead><tr><th>step</th>'
            '<th>stream</th><th class="num">rows committed</th><th class="num">bytes '
            'committed</th><th class="num">emitted</th><th class="num">rejected</th>'
            '<th class="num">previous runs (newest first)</th><th class="num">vs last</th>'
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )
    elif syncs:
        out.append('<p class="note">No per-stream counts were recorded for this run.</p>')
    out.append("</section>")
    return "".join(out)


def _sync_meta(
    s: StepRecord, evs: Mapping[str, EventRecord], plan: Mapping[str, StepPlan], e: _Text
) -> str:
    """A sync step's heading and its connection, job, how, attempts and rows."""
    url, how, conn_id, attempts = _sync_info(s, evs)
    connection = plan.get(s.step_name, StepPlan()).connection or conn_id or "—"
    job = "—" if s.job_id is None else f"job {s.job_id}"
    job_html = e.link(url, job) if url else e(job)
    return (
        f'<h3 id="{e(step_anchor(s.step_name, "sync"))}">{e(s.step_name)} '
        f'<span class="muted">· {e(_STATUS_TEXT.get(s.status, s.status))}</span></h3>'
        f'<dl class="meta"><dt>connection</dt><dd>{e(connection)}</dd>'
        f'<dt>Airbyte job</dt><dd class="job">{job_html}</dd>'
        f"<dt>how</dt><dd>{e(how or '—')}</dd>"
        f"<dt>attempts</dt><dd>{e(_num(attempts))}</dd>"
        f"<dt>rows</dt><dd>{e(_num(s.rows))}</dd></dl>"
    )


def _stream_row(
    s: StepRecord,
    st: StreamStatRecord,
    prev: Sequence[tuple[str, datetime, int]],
    e: _Text,
) -> str:
    """One stream's counts beside its previous runs' rows (newest first)."""
    prev_txt = " · ".join(_num(r) for _, _, r in prev[:5]) or "—"
    prev_title = ", ".join(f"{rid[:8]} {at:%Y-%m-%d}: {r}" for rid, at, r in prev[:5])
    change = "—"
    if prev and prev[0][2] > 0:
        pct = (st.records_committed - prev[0][2]) / prev[0][2] * 100
        change = f"{pct:+.0f}%"
    elif prev:
        change = "new rows" if st.records_committed else "0 → 0"
    flag = ""
    if st.records_committed == 0:
        flag = ' <strong class="bad">⚠ zero rows</strong>'
    return (
        f'<tr class="stream" data-step="{e(s.step_name)}" '
        f'data-stream="{e(_stream_name(st))}"'
        f' data-rows="{st.records_committed}"'
        f' data-previous="{",".join(str(r) for _, _, r in prev[:5])}">'
        f"<td>{e(s.step_name)}</td>"
        f"<td>{e(_stream_name(st))}{flag}</td>"
        f'<td class="num rows">{_num(st.records_committed)}</td>'
        f'<td class="num">{_num(st.bytes_committed)}</td>'
        f'<td class="num">{_num(st.records_emitted)}</td>'
        f'<td class="num">{_num(st.records_rejected)}</td>'
        f'<td class="num" title="{e(prev_title)}">{e(prev_txt)}</td>'
        f'<td class="num">{e(change)}</td></tr>'
    )


def _check_values(c: CheckRecord) -> tuple[str, str, str]:
    """(expected, actual, tolerance) from a check's details, as far as they say."""
    d: Mapping[str, Any] = c.details or {}
    if "expected" in d or "actual" in d:
        tol = d.get("tolerance")
        return _fmt(d.get("expected")), _fmt(d.get("actual")), _fmt(tol)
    if "expect" in d or "value" in d:
        return _fmt(d.get("expect")), _fmt(d.get("value")), "—"
    if "differences" in d:
        diffs = d.get("differences") or []
        actual = "matches" if not diffs else f"{len(diffs)} difference(s)"
        return "declared schema", actual, "—"
    if "max_age" in d or "age" in d:
        return _fmt(d.get("max_age")), _fmt(d.get("age")), "—"
    return "—", "—", "—"


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _num(value)
    return str(value)


def _checks(detail: RunDetail, e: _Text) -> str:
    out = ['<section id="checks"><h2>Checks</h2>']
    if not detail.checks:
        out.append('<p class="note">No check results were recorded for this run.</p>')
    else:
        out.append(
            '<table id="checks-table"><thead><tr><th>step</th><th>check</th><th>expected</th>'
            "<th>actual</th><th>tolerance</th><th>verdict</th><th>severity</th>"
            "<th>message</th></tr></thead><tbody>"
        )
        for c in detail.checks:
            exp, act, tol = _check_values(c)
            verdict = '<span class="ok">✓ passed</span>'
            if not c.passed:
                verdict = '<strong class="bad">✗ FAILED</strong>'
            out.append(
                f'<tr class="check" data-passed="{str(c.passed).lower()}"><td>{e(c.step_name)}</td>'
                f"<td>{e(c.check)}</td><td>{e(exp)}</td><td>{e(act)}</td><td>{e(tol)}</td>"
                f'<td class="nw">{verdict}</td><td>{e(c.severity)}</td>'
                f"<td>{e(c.message or '')}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _failures(detail: RunDetail, plan: Mapping[str, StepPlan], e: _Text) -> str:
    failed = [s for s in detail.steps if s.status == "failed"]
    blocked = [s for s in detail.steps if s.status in ("upstream_failed", "not_run")]
    out = ['<section id="failures"><h2>Failures</h2>']
    if not failed and not blocked and detail.run.status == "succeeded":
        out.append('<p class="ok" id="no-failures">✓ No step failed.</p></section>')
        return "".join(out)
    if detail.run.status != "succeeded" and not failed and detail.run.message:
        out.append(
            f'<div class="recap"><strong class="bad">✗ the run ended {e(detail.run.status)}'
            f"</strong>: {e(detail.run.message)}</div>"
        )
    for s in failed:
        match = _EXIT_PREFIX.match(s.message or "")
        code = match.group(1) if match else None
        cause = (s.message or "")[match.end() :] if match else (s.message or "")
        bad_checks = [c for c in detail.checks_for(s.step_name) if not c.passed]
        cause = cause.strip() or "; ".join(c.message or c.check for c in bad_checks)
        checks_html = "".join(
            f"<li>{e(c.check)}: {e(c.message or 'failed')}</li>" for c in bad_checks
        )
        out.append(
            f'<div class="recap failure" id="{e(step_anchor(s.step_name, "failure"))}" '
            f'data-step="{e(s.step_name)}">'
            f'<strong class="bad">✗ FAILED: {e(s.step_name)}</strong> '
            f'<span class="muted">({e(s.kind)}{", exit " + e(code) if code else ""}'
            f"{', owner ' + e(s.owner) if s.owner else ''})</span>"
            f'<p><strong>Cause:</strong> <span class="cause">{e(cause or "no message recorded")}'
            "</span></p>"
            + (f"<ul>{checks_html}</ul>" if checks_html else "")
            + f'<p><strong>Fix:</strong> <span class="fix">{e(_FIX.get(s.kind, _FIX["command"]))}'
            "</span></p></div>"
        )
    if blocked:

        def waits(name: str) -> str:
            after = plan.get(name, StepPlan()).after
            return f" (waits for {e(', '.join(after))})" if after else ""

        items = "".join(
            f"<li><strong>{e(_STATUS_TEXT.get(s.status, s.status))}</strong>: {e(s.step_name)}"
            f"{waits(s.step_name)}{': ' + e(s.message) if s.message else ''}</li>"
            for s in blocked
        )
        out.append(f"<h3>Not run because of the failures</h3><ul>{items}</ul>")
    out.append("</section>")
    return "".join(out)


@dataclass
class _Lineage:
    """The lineage graph's nodes, one list per column, each (key, label), and its edges."""

    sources: list[tuple[str, str]] = field(default_factory=list)
    streams: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def columns(self) -> tuple[list[tuple[str, str]], ...]:
        return (self.sources, self.streams, self.tables, self.models)


def _lineage_svg(
    detail: RunDetail,
    plan: Mapping[str, StepPlan],
    per_step: Mapping[str, Mapping[str, EventRecord]],
    e: _Text,
) -> str:
    """sources → streams → tables → transforms (dbt models), as far as the records tell."""
    graph = _Lineage()
    sync_tables = _lineage_syncs(graph, detail, plan, per_step)
    _lineage_transforms(graph, detail, plan, sync_tables)
    if not graph.sources:
        return '<p class="note">No sync in this run: nothing to draw.</p>'
    return _draw_lineage(graph, e)


def _lineage_syncs(
    graph: _Lineage,
    detail: RunDetail,
    plan: Mapping[str, StepPlan],
    per_step: Mapping[str, Mapping[str, EventRecord]],
) -> dict[str, list[str]]:
    """Add each sync's source, streams and tables; returns each sync's last nodes."""
    table_of: dict[tuple[str, str], str] = {}
    for c in detail.checks:
        d = c.details or {}
        if d.get("table") and d.get("stream"):
            table_of[(c.step_name.split(":")[0], str(d["stream"]))] = str(d["table"])
    sync_tables: dict[str, list[str]] = {}
    streams_of: dict[str, list[StreamStatRecord]] = {}
    for stat in detail.stream_stats:
        streams_of.setdefault(stat.step_name, []).append(stat)
    for s in detail.steps:
        if s.kind != "sync":
            continue
        evs = per_step.get(s.step_name, {})
        label = plan.get(s.step_name, StepPlan()).connection or _sync_info(s, evs)[2] or s.step_name
        src = f"src:{s.step_name}"
        graph.sources.append((src, label))
        for st in streams_of.get(s.step_name, ()):
            sk = f"st:{s.step_name}:{_stream_name(st)}"
            graph.streams.append((sk, _stream_name(st)))
            graph.edges.append((src, sk))
            table = table_of.get((s.step_name, st.stream))
            if table:
                tk = f"tb:{table}"
                if tk not in {k for k, _ in graph.tables}:
                    graph.tables.append((tk, table))
                graph.edges.append((sk, tk))
                sync_tables.setdefault(s.step_name, []).append(tk)
            else:
                sync_tables.setdefault(s.step_name, []).append(sk)
    return sync_tables


def _lineage_transforms(
    graph: _Lineage,
    detail: RunDetail,
    plan: Mapping[str, StepPlan],
    sync_tables: Mapping[str, list[str]],
) -> None:
    """Add each transform fed (through the plan's ``after``) by a sync of this run."""
    upstream_syncs: dict[str, set[str]] = {}
    kinds = {s.step_name: s.kind for s in detail.steps}

    def syncs_of(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if name in upstream_syncs:
            return upstream_syncs[name]
        found: set[str] = set()
        for dep in plan.get(name, StepPlan()).after:
            if dep in seen:
                continue
            if kinds.get(dep) == "sync":
                found.add(dep)
            found |= syncs_of(dep, seen | {name})
        upstream_syncs[name] = found
        return found

    for s in detail.steps:
        if s.kind not in _TRANSFORMS:
            continue
        p = plan.get(s.step_name, StepPlan())
        label = s.step_name + (f" ({', '.join(p.models)})" if p.models else f" [{s.kind}]")
        mk = f"tf:{s.step_name}"
        feeds = syncs_of(s.step_name)
        if not feeds:
            continue
        graph.models.append((mk, label))
        for sync in sorted(feeds):
            for node in sync_tables.get(sync, [f"src:{sync}"]):
                graph.edges.append((node, mk))


def _draw_lineage(graph: _Lineage, e: _Text) -> str:
    """Four columns of boxes (at most 60 each) joined by curves, as inline SVG."""
    cap = 60
    columns = [c[:cap] for c in graph.columns()]
    titles = ("sources", "streams", "tables", "transforms")
    col_w, box_w, row_h = 250, 210, 26
    height = 30 + row_h * max(len(c) for c in columns) + 10
    pos: dict[str, tuple[float, float]] = {}
    parts: list[str] = []
    for ci, col in enumerate(columns):
        x0 = 10 + ci * col_w
        parts.append(f'<text class="lbl" x="{x0}" y="16">{titles[ci]}</text>')
        for ri, (key, label) in enumerate(col):
            y0 = 26 + ri * row_h
            pos[key] = (x0, y0)
            parts.append(
                f'<g class="lnode" data-key="{e(key)}"><rect class="node" x="{x0}" y="{y0}" '
                f'width="{box_w}" height="{row_h - 6}" rx="4"/><text x="{x0 + 6}" '
                f'y="{y0 + 14}">{e(_short(label, 32))}</text><title>{e(label)}</title></g>'
            )
    lines = []
    for a, b in dict.fromkeys(graph.edges):
        if a in pos and b in pos:
            (ax, ay), (bx, by) = pos[a], pos[b]
            x1, y1, x2, y2 = ax + box_w, ay + (row_h - 6) / 2, bx, by + (row_h - 6) / 2
            mid = (x1 + x2) / 2
            lines.append(
                f'<path class="edge" d="M{x1:.0f} {y1:.0f}C{mid:.0f} {y1:.0f} {mid:.0f} '
                f'{y2:.0f} {x2:.0f} {y2:.0f}"/>'
            )
    width = 10 + 4 * col_w
    more = sum(max(0, len(c) - cap) for c in graph.columns())
    note = f'<p class="note">{more} more node(s) not drawn.</p>' if more else ""
    return (
        f'<svg id="lineage" role="img" aria-label="lineage: sources, streams, tables, '
        f'transforms" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        + "".join(lines)
        + "".join(parts)
        + "</svg>"
        + note
    )


def _steps_table(detail: RunDetail, order: Sequence[int], e: _Text) -> str:
    rows = []
    for i in order:
        s = detail.steps[i]
        text = s.message or ""
        rows.append(
            f'<tr id="{e(step_anchor(s.step_name))}" class="step" data-step="{e(s.step_name)}">'
            f"<td>{e(s.step_name)}</td><td>{e(s.kind)}</td>"
            f'<td class="nw{" bad" if s.status in _BAD else ""}">'
            f"{e(_STATUS_TEXT.get(s.status, s.status))}</td>"
            f'<td class="num">{e("" if s.job_id is None else s.job_id)}</td>'
            f'<td class="num">{e(_num(s.rows) if s.rows is not None else "")}</td>'
            f'<td class="num">{e(_secs(step_duration(s)))}</td>'
            f"<td>{e(s.owner or '')}</td><td>{e(_short(text, 300))}</td></tr>"
        )
    return (
        '<section id="steps"><h2>Steps</h2><table id="steps-table"><thead><tr><th>step</th>'
        '<th>kind</th><th>status</th><th class="num">job</th><th class="num">rows</th>'
        '<th class="num">duration</th><th>owner</th><th>message</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></section>"
    )


_NAV = (
    '<nav class="note">'
    + " · ".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("timeline", "timeline"),
            ("failures", "failures"),
            ("syncs", "syncs"),
            ("checks", "checks"),
            ("lineage-section", "lineage"),
            ("steps", "steps"),
        )
    )
    + "</nav>"
)


def _time_span(detail: RunDetail, events: Sequence[EventRecord]) -> tuple[datetime, datetime]:
    """The timeline's start and end: the run's, widened to every recorded time."""
    run = detail.run
    times = [t for s in detail.steps for t in (s.started_at, s.finished_at) if t is not None]
    times += [ev.at for ev in events]
    t0 = min([run.started_at, *times])
    t_end = run.finished_at or max(times, default=t0 + timedelta(seconds=1))
    return t0, max([t_end, *times])


def _timeline_gaps(has_plan: bool) -> list[str]:
    """What the timeline cannot know, said under it."""
    gaps = []
    if not has_plan:
        gaps.append(
            "the pipeline file was not given, so dependencies are unknown: a step's wait "
            "before it started is shown as queued from the start of the run"
        )
    gaps.append(
        "queued = from the moment its last dependency finished (or the run started) to its "
        "start; the store does not record when Luigi handed the step to a worker"
    )
    return gaps


def render_run_html(
    detail: RunDetail,
    *,
    events: Sequence[EventRecord] = (),
    previous: Sequence[tuple[str, datetime, StreamStatRecord]] = (),
    plan: Mapping[str, StepPlan] | None = None,
    redact: Redact | None = None,
    report_url: str | None = None,
    generated_at: datetime | None = None,
) -> str:
    """One run as a self-contained HTML page.

    ``events`` are the run's stored events (timeline detail, job links, attempts);
    ``previous`` the earlier runs' stream counts (``Store.previous_stream_rows``);
    ``plan`` what the pipeline file says per step (dependencies, connection, models).
    """
    e = _Text(redact)
    plan = dict(plan or {})
    run = detail.run
    per_step = _step_events(events)
    order = _dependency_order(detail.steps, plan)
    t0, t_end = _time_span(detail, events)
    bars = _bars(detail, order, plan, per_step, t0, t_end)
    prev_rows: dict[tuple[str, str], list[tuple[str, datetime, int]]] = {}
    for rid, at, st in previous:
        prev_rows.setdefault((st.step_name, _stream_name(st)), []).append(
            (rid, at, st.records_committed)
        )
    made = generated_at or datetime.now(timezone.utc)
    body = [
        _header(detail, e, report_url),
        _NAV,
        _failures(detail, plan, e) if any(s.status == "failed" for s in detail.steps) else "",
        '<section id="timeline-section"><h2 id="timeline-h">Timeline</h2>',
        _legend(),
        _timeline_svg(bars, t0, t_end, e) if bars else '<p class="note">No steps recorded.</p>',
        "".join(f'<p class="note">Note: {e(g)}.</p>' for g in _timeline_gaps(bool(plan))),
        "</section>",
        "" if any(s.status == "failed" for s in detail.steps) else _failures(detail, plan, e),
        _syncs(detail, per_step, plan, prev_rows, e),
        _checks(detail, e),
        '<section id="lineage-section"><h2>Lineage</h2>',
        _lineage_svg(detail, plan, per_step, e),
        "</section>",
        _steps_table(detail, order, e),
        f'<footer class="note"><p>luigi-airbyte run report · generated {e(_when(made))} '
        f"from the metadata store · run {e(run.run_id)}</p></footer>",
    ]
    return _page(f"{run.pipeline} · run {run.run_id[:8]} · {run.status}", body, e)


def write_html(text: str, path: Path) -> Path:
    """Write a rendered report atomically (a reader never sees half a file)."""
    return _atomic_write(Path(path), text)
