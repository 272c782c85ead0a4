"""Run and trend reports as one self-contained HTML file. See docs/reports.md.

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

import html
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

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
    "step_anchor",
    "render_run_html",
    "render_trends_html",
    "write_html",
]

Redact = Callable[[str], str]


@dataclass(frozen=True)
class StepPlan:
    """What the pipeline file says about one step (all optional)."""

    after: tuple[str, ...] = ()
    connection: str = ""  # sync steps: the connection as written in the file
    models: tuple[str, ...] = ()  # dbt steps: model names


_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_EXIT_PREFIX = re.compile(r"^\[exit (\d+)\]\s*")
_SAFE_LINK = re.compile(r"^https?://[^\s\"'<>]+$")
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

_STATUS_TEXT = {
    "succeeded": "✓ succeeded",
    "failed": "✗ FAILED",
    "skipped": "↷ skipped",
    "fresh": "↷ fresh",
    "upstream_failed": "⊘ upstream failed",
    "not_run": "⊘ not run",
    "pending": "… pending",
    "running": "… running",
}

CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;
--panel:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--wait:#e6eaef;--queued:#afb8c1;
--sync:#0969da;--attached:#54aeff;--check:#8250df;--transform:#bf8700;--skip:#8c959f;
--link:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;
--line:#30363d;--panel:#161b22;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--wait:#262c36;
--queued:#5a636e;--sync:#2f81f7;--attached:#79c0ff;--check:#a371f7;--transform:#e3b341;
--skip:#6e7681;--link:#58a6ff}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:16px 24px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
a{color:var(--link)}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;
font-size:12.5px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;
border:2px solid currentColor}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.muted{color:var(--muted)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0 8px;padding:0;list-style:none}
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle;
border:1px solid var(--line)}
.recap{border:2px solid var(--bad);border-left-width:8px;padding:8px 12px;margin:8px 0;
background:var(--panel)}
.note{color:var(--muted);font-size:12.5px}
svg{max-width:100%;height:auto;font:11px system-ui,sans-serif}
svg text{fill:var(--fg)}svg .axis{stroke:var(--line)}svg .lbl{fill:var(--muted)}
.s-wait{fill:var(--wait)}.s-queued{fill:var(--queued)}.s-sync{fill:var(--sync)}
.s-attached{fill:var(--attached)}.s-check{fill:var(--check)}
.s-transform{fill:var(--transform)}.s-failed{fill:url(#hatch);stroke:var(--bad);
stroke-width:1.5}.s-skip{fill:var(--skip)}
svg .t-bad{fill:var(--bad);font-weight:600}svg .t-ok{fill:var(--ok)}
.edge{stroke:var(--muted);fill:none;stroke-width:1}.node{fill:var(--panel);stroke:var(--line)}
.line{fill:none;stroke:var(--sync);stroke-width:1.5}.pt{fill:var(--sync)}
.pt-bad{fill:var(--bad)}.pt-warn{fill:var(--warn)}
details>summary{cursor:pointer}.nw{white-space:nowrap}
@media print{:root{--bg:#fff;--fg:#000;--muted:#333;--line:#999;--panel:#fff}
body{max-width:none;padding:0;font-size:11px}a{color:#000}
a[href^="http"]::after{content:" (" attr(href) ")";font-size:9px}
section,table,svg,.recap{break-inside:avoid}h2{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}details{display:block}}
"""


# --- text ----------------------------------------------------------------------------


class _Text:
    """Escaping with masking: every value in the page goes through ``__call__``."""

    def __init__(self, redact: Redact | None) -> None:
        self.redact = redact
        self._cache: dict[str, str] = {}

    def clean(self, value: object) -> str:
        text = "" if value is None else str(value)
        if "://" in text:
            text = _URL_USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
        if self.redact is not None:
            text = self.redact(text)
        return text

    def __call__(self, value: object) -> str:
        key = "" if value is None else str(value)
        done = self._cache.get(key)
        if done is None:
            done = html.escape(self.clean(key), quote=True)
            if len(self._cache) < 50_000:
                self._cache[key] = done
        return done

    def link(self, url: object, label: object) -> str:
        target = self.clean(url)
        if not _SAFE_LINK.match(target):
            return self(label)
        return f'<a href="{html.escape(target, quote=True)}">{self(label)}</a>'


def _num(value: int | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f}s"
    minutes, sec = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _page(title: str, body: Iterable[str], e: _Text) -> str:
    return "".join(
        (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            '<meta name="color-scheme" content="light dark">',
            # No fetch of any kind, even if an escaping bug let markup through.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">",
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
            *body,
            "</body></html>\n",
        )
    )


# --- ordering and timing ---------------------------------------------------------------


def _dependency_order(steps: Sequence[StepRecord], plan: Mapping[str, StepPlan]) -> list[int]:
    """Indexes of ``steps`` with every step after the steps it waits for; ties by start."""
    names = {s.step_name: i for i, s in enumerate(steps)}
    far = datetime.max.replace(tzinfo=timezone.utc)

    def key(i: int) -> tuple[datetime, int]:
        return (steps[i].started_at or far, i)

    deps = {
        i: {names[d] for d in plan.get(s.step_name, StepPlan()).after if d in names}
        for i, s in enumerate(steps)
    }
    done: list[int] = []
    placed: set[int] = set()
    remaining = sorted(range(len(steps)), key=key)
    while remaining:
        ready = [i for i in remaining if deps[i] <= placed]
        if not ready:  # a cycle or a dangling name: keep the rest by start time
            ready = remaining[:1]
        first = ready[0]
        done.append(first)
        placed.add(first)
        remaining.remove(first)
    return done


def _step_events(events: Sequence[EventRecord]) -> dict[str, dict[str, EventRecord]]:
    """step name -> event name -> the first such event (the last for outcomes)."""
    out: dict[str, dict[str, EventRecord]] = {}
    for ev in events:
        step = ev.fields.get("step")
        if not isinstance(step, str):
            continue
        per = out.setdefault(step, {})
        if ev.name in _OUTCOME_EVENTS or ev.name in ("sync.succeeded", "sync.failed"):
            per[ev.name] = ev  # the last outcome counts
        else:
            per.setdefault(ev.name, ev)
    return out


_OUTCOME_EVENTS = (
    "step.succeeded",
    "step.failed",
    "step.skipped",
    "step.fresh",
    "step.upstream_failed",
    "step.not_run",
)


@dataclass(frozen=True)
class _Bar:
    step: StepRecord
    segments: tuple[tuple[datetime, datetime, str, str], ...]  # start, end, class, label
    mark: datetime | None  # for steps that never ran: when they were decided


def _bars(
    detail: RunDetail,
    order: Sequence[int],
    plan: Mapping[str, StepPlan],
    per_step: Mapping[str, Mapping[str, EventRecord]],
    t0: datetime,
    t_end: datetime,
) -> list[_Bar]:
    finished: dict[str, datetime] = {}
    for s in detail.steps:
        evs = per_step.get(s.step_name, {})
        end = s.finished_at or next(
            (evs[n].at for n in _OUTCOME_EVENTS if n in evs and s.started_at), None
        )
        if end is not None:
            finished[s.step_name] = end
    bars: list[_Bar] = []
    for i in order:
        s = detail.steps[i]
        evs = per_step.get(s.step_name, {})
        start = s.started_at or (evs["step.started"].at if "step.started" in evs else None)
        after = plan.get(s.step_name, StepPlan()).after
        deps_done = max((finished[d] for d in after if d in finished), default=None)
        if start is None:
            decided = next((evs[n].at for n in _OUTCOME_EVENTS if n in evs), None)
            bars.append(_Bar(s, (), decided or deps_done or t0))
            continue
        segs: list[tuple[datetime, datetime, str, str]] = []
        ready = t0
        if deps_done is not None and deps_done > t0:
            ready = min(deps_done, start)
            segs.append((t0, ready, "s-wait", "waiting for a dependency"))
        if start > ready:
            segs.append((ready, start, "s-queued", "queued (waiting for a worker)"))
        end = finished.get(s.step_name) or t_end
        if s.kind == "sync":
            attached = "sync.attached" in evs and "sync.triggered" not in evs
            cls, label = ("s-attached", "sync attached") if attached else ("s-sync", "sync")
            if "sync.triggered" in evs:
                label = "sync triggered"
        elif s.kind == "check":
            cls, label = "s-check", "check running"
        else:
            cls, label = "s-transform", f"{s.kind} running"
        if s.status == "failed":
            cls, label = cls + " s-failed", label + " (failed)"
        segs.append((start, max(end, start), cls, label))
        bars.append(_Bar(s, tuple(segs), None))
    return bars


def _nice_step(span: float) -> float:
    raw = span / 6
    for unit in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if raw <= unit:
            return unit
    return 3600 * max(1, round(raw / 3600))


def _timeline_svg(bars: Sequence[_Bar], t0: datetime, t_end: datetime, e: _Text) -> str:
    label_w, chart_w, status_w, row_h, top = 230, 640, 150, 18, 24
    span = max((t_end - t0).total_seconds(), 0.001)
    height = top + row_h * len(bars) + 8
    width = label_w + chart_w + status_w

    def x(t: datetime) -> float:
        return label_w + chart_w * max(0.0, (t - t0).total_seconds()) / span

    out = [
        f'<svg id="timeline" role="img" aria-labelledby="timeline-title" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        '<title id="timeline-title">Timeline of every step of the run</title>',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="var(--bad)" '
        'opacity="0.35"/><line x1="0" y1="0" x2="0" y2="6" stroke="var(--bad)" '
        'stroke-width="3"/></pattern></defs>',
    ]
    tick = _nice_step(span)
    n = 0
    while n * tick <= span + 1e-9 and n < 200:
        tx = label_w + chart_w * n * tick / span
        out.append(
            f'<line class="axis" x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 8}"/>'
            f'<text class="lbl" x="{tx:.1f}" y="{top - 10}" text-anchor="middle">'
            f"+{_secs(n * tick)}</text>"
        )
        n += 1
    for row, bar in enumerate(bars):
        s = bar.step
        y = top + row * row_h
        out.append(
            f'<g class="bar" id="bar-{row}" data-step="{e(s.step_name)}" '
            f'data-kind="{e(s.kind)}" data-status="{e(s.status)}">'
            f"<title>{e(s.step_name)}: {e(s.status)}</title>"
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">'
            f"{e(_short(s.step_name, 34))}</text>"
        )
        for start, end, cls, label in bar.segments:
            x1, x2 = x(start), x(end)
            w = max(x2 - x1, 1.5)
            out.append(
                f'<rect class="seg {cls}" x="{x1:.1f}" y="{y + 3}" width="{w:.1f}" '
                f'height="{row_h - 6}"><title>{e(s.step_name)}: {e(label)} '
                f"{_secs((end - start).total_seconds())}</title></rect>"
            )
        if bar.mark is not None:
            mx = x(bar.mark)
            out.append(
                f'<path class="seg s-skip" d="M{mx:.1f} {y + 3}l6 6l-6 6l-6 -6z">'
                f"<title>{e(s.step_name)}: {e(s.status)}</title></path>"
            )
        css = "t-bad" if s.status in ("failed", "upstream_failed", "not_run") else ""
        css = "t-ok" if s.status == "succeeded" else css
        dur = step_duration(s)
        suffix = f" {_secs(dur)}" if dur is not None and bar.segments else ""
        out.append(
            f'<text class="status {css}" x="{label_w + chart_w + 8}" y="{y + 13}">'
            f"{e(_STATUS_TEXT.get(s.status, s.status))}{suffix}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


_LEGEND = (
    ("s-wait", "waiting for a dependency"),
    ("s-queued", "queued (dependencies done, not started)"),
    ("s-sync", "sync: job triggered"),
    ("s-attached", "sync: attached to an existing job"),
    ("s-check", "check"),
    ("s-transform", "dbt / Spark / command"),
    ("s-failed", "failed (also marked ✗ FAILED)"),
    ("s-skip", "decided without running (skipped, fresh, upstream failed)"),
)


def _legend() -> str:
    items = "".join(
        f'<li><svg width="16" height="12" aria-hidden="true"><rect class="{cls}" width="16" '
        f'height="12"/></svg> {html.escape(text)}</li>'
        for cls, text in _LEGEND
    )
    return f'<ul class="legend">{items}</ul>'


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


def _stream_name(s: StreamStatRecord) -> str:
    return f"{s.namespace}.{s.stream}" if s.namespace else s.stream


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
        evs = per_step.get(s.step_name, {})
        url, how, conn_id, attempts = _sync_info(s, evs)
        connection = plan.get(s.step_name, StepPlan()).connection or conn_id or "—"
        job = "—" if s.job_id is None else f"job {s.job_id}"
        job_html = e.link(url, job) if url else e(job)
        out.append(
            f'<h3 id="{e(step_anchor(s.step_name, "sync"))}">{e(s.step_name)} '
            f'<span class="muted">· {e(_STATUS_TEXT.get(s.status, s.status))}</span></h3>'
            f'<dl class="meta"><dt>connection</dt><dd>{e(connection)}</dd>'
            f'<dt>Airbyte job</dt><dd class="job">{job_html}</dd>'
            f"<dt>how</dt><dd>{e(how or '—')}</dd>"
            f"<dt>attempts</dt><dd>{e(_num(attempts))}</dd>"
            f"<dt>rows</dt><dd>{e(_num(s.rows))}</dd></dl>"
        )
        for st in by_step.get(s.step_name, ()):
            prev = previous.get((s.step_name, _stream_name(st)), ())
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
            rows.append(
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


def _lineage_svg(
    detail: RunDetail,
    plan: Mapping[str, StepPlan],
    per_step: Mapping[str, Mapping[str, EventRecord]],
    e: _Text,
) -> str:
    """sources → streams → tables → transforms (dbt models), as far as the records tell."""
    cap = 60
    sources: list[tuple[str, str]] = []  # (key, label)
    streams: list[tuple[str, str]] = []
    tables: list[tuple[str, str]] = []
    models: list[tuple[str, str]] = []
    edges: list[tuple[str, str]] = []
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
        sources.append((src, label))
        for st in streams_of.get(s.step_name, ()):
            sk = f"st:{s.step_name}:{_stream_name(st)}"
            streams.append((sk, _stream_name(st)))
            edges.append((src, sk))
            table = table_of.get((s.step_name, st.stream))
            if table:
                tk = f"tb:{table}"
                if tk not in {k for k, _ in tables}:
                    tables.append((tk, table))
                edges.append((sk, tk))
                sync_tables.setdefault(s.step_name, []).append(tk)
            else:
                sync_tables.setdefault(s.step_name, []).append(sk)
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
        models.append((mk, label))
        for sync in sorted(feeds):
            for node in sync_tables.get(sync, [f"src:{sync}"]):
                edges.append((node, mk))
    if not sources:
        return '<p class="note">No sync in this run: nothing to draw.</p>'
    columns = [c[:cap] for c in (sources, streams, tables, models)]
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
    for a, b in dict.fromkeys(edges):
        if a in pos and b in pos:
            (ax, ay), (bx, by) = pos[a], pos[b]
            x1, y1, x2, y2 = ax + box_w, ay + (row_h - 6) / 2, bx, by + (row_h - 6) / 2
            mid = (x1 + x2) / 2
            lines.append(
                f'<path class="edge" d="M{x1:.0f} {y1:.0f}C{mid:.0f} {y1:.0f} {mid:.0f} '
                f'{y2:.0f} {x2:.0f} {y2:.0f}"/>'
            )
    width = 10 + 4 * col_w
    more = sum(max(0, len(c) - cap) for c in (sources, streams, tables, models))
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


def step_anchor(step_name: str, section: str = "step") -> str:
    """The id of a step's place in the run report: ``step-<name>`` (its row in the steps
    table), ``failure-<name>`` (its failure recap) or ``sync-<name>`` (its sync section).
    A link needs it percent-encoded: ``report.html#`` + ``urllib.parse.quote(anchor)``."""
    return f"{section}-{step_name}"


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
    times = [t for s in detail.steps for t in (s.started_at, s.finished_at) if t is not None]
    times += [ev.at for ev in events]
    t0 = min([run.started_at, *times])
    t_end = run.finished_at or max(times, default=t0 + timedelta(seconds=1))
    t_end = max([t_end, *times])
    bars = _bars(detail, order, plan, per_step, t0, t_end)
    prev_rows: dict[tuple[str, str], list[tuple[str, datetime, int]]] = {}
    for rid, at, st in previous:
        prev_rows.setdefault((st.step_name, _stream_name(st)), []).append(
            (rid, at, st.records_committed)
        )
    gaps = []
    if not plan:
        gaps.append(
            "the pipeline file was not given, so dependencies are unknown: a step's wait "
            "before it started is shown as queued from the start of the run"
        )
    gaps.append(
        "queued = from the moment its last dependency finished (or the run started) to its "
        "start; the store does not record when Luigi handed the step to a worker"
    )
    made = generated_at or datetime.now(timezone.utc)
    body = [
        _header(detail, e, report_url),
        '<nav class="note">',
        " · ".join(
            f'<a href="#{a}">{t}</a>'
            for a, t in (
                ("timeline", "timeline"),
                ("failures", "failures"),
                ("syncs", "syncs"),
                ("checks", "checks"),
                ("lineage-section", "lineage"),
                ("steps", "steps"),
            )
        ),
        "</nav>",
        _failures(detail, plan, e) if any(s.status == "failed" for s in detail.steps) else "",
        '<section id="timeline-section"><h2 id="timeline-h">Timeline</h2>',
        _legend(),
        _timeline_svg(bars, t0, t_end, e) if bars else '<p class="note">No steps recorded.</p>',
        "".join(f'<p class="note">Note: {e(g)}.</p>' for g in gaps),
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


# --- trends -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendEvent:
    """A zero-row or sharp-drop point of a stream, as marked in the trend report."""

    at: datetime
    run_id: str
    step: str
    stream: str
    rows: int
    kind: str  # "zero rows" | "sharp drop"
    median_before: float | None


def stream_events(
    runs: Sequence[RunDetail], drop_threshold: float = 0.5, window: int = 7
) -> list[TrendEvent]:
    """Zero rows, and rows more than ``drop_threshold`` below the median of the previous
    ``window`` runs of the same stream (the rule the sync outcome check uses)."""
    series = _stream_series(runs)
    found: list[TrendEvent] = []
    for (step, stream), points in series.items():
        for i, (at, rid, rows) in enumerate(points):
            before = [r for _, _, r in points[max(0, i - window) : i]]
            median = statistics.median(before) if before else None
            if rows == 0:
                found.append(TrendEvent(at, rid, step, stream, rows, "zero rows", median))
            elif median and median > 0 and rows < median * (1 - drop_threshold):
                found.append(TrendEvent(at, rid, step, stream, rows, "sharp drop", median))
    found.sort(key=lambda t: t.at)
    return found


def _stream_series(
    runs: Sequence[RunDetail],
) -> dict[tuple[str, str], list[tuple[datetime, str, int]]]:
    series: dict[tuple[str, str], list[tuple[datetime, str, int]]] = {}
    for d in runs:
        totals: dict[tuple[str, str], int] = {}
        for st in d.stream_stats:
            key = (st.step_name, _stream_name(st))
            totals[key] = totals.get(key, 0) + st.records_committed
        for key, rows in totals.items():
            series.setdefault(key, []).append((d.run.started_at, d.run.run_id, rows))
    return series


_POINT_TEXT = {"pt-bad": "zero rows / failed", "pt-warn": "sharp drop"}


def _spark(
    points: Sequence[tuple[datetime, str, float, str]],
    t0: datetime,
    t1: datetime,
    e: _Text,
    unit: Callable[[float], str],
) -> str:
    """A small line chart: x = time, y = value; point class marks zero/drop/failure."""
    w, h, pad = 360, 54, 6
    span = max((t1 - t0).total_seconds(), 1.0)
    top = max((p[2] for p in points), default=1.0) or 1.0
    coords = []
    for at, _, value, _ in points:
        x = pad + (w - 2 * pad) * (at - t0).total_seconds() / span
        y = h - pad - (h - 2 * pad) * value / top
        coords.append((x, y))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle class="pt {cls}" cx="{x:.1f}" cy="{y:.1f}" r="{3.5 if cls else 2.2}">'
        f"<title>{e(at.strftime('%Y-%m-%d %H:%M'))} · run {e(rid[:8])}: {e(unit(v))}"
        f"{' · ' + _POINT_TEXT.get(cls, '') if cls else ''}"
        "</title></circle>"
        for (x, y), (at, rid, v, cls) in zip(coords, points, strict=True)
    )
    return (
        f'<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="trend"><line class="axis" x1="{pad}" y1="{h - pad}" x2="{w - pad}" '
        f'y2="{h - pad}"/><polyline class="line" points="{path}"/>{dots}</svg>'
    )


def render_trends_html(
    runs: Sequence[RunDetail],
    *,
    pipeline: str | None,
    days: int,
    redact: Redact | None = None,
    drop_threshold: float = 0.5,
    generated_at: datetime | None = None,
) -> str:
    """Duration per step and rows per stream over ``runs`` (oldest first), with zero-row
    and sharp-drop points marked in the charts and listed in a table."""
    e = _Text(redact)
    made = generated_at or datetime.now(timezone.utc)
    title = f"{pipeline or 'all pipelines'} · trends over {days} day(s)"
    body = [f"<header><h1>{e(title)}</h1>"]
    if not runs:
        body.append(
            f'<p class="note">No runs in the store since '
            f"{e(_when(made - timedelta(days=days)))}.</p></header>"
        )
        return _page(title, body, e)
    t0, t1 = runs[0].run.started_at, runs[-1].run.started_at
    ok = sum(1 for d in runs if d.run.status == "succeeded")
    body.append(
        f'<dl class="meta"><dt>runs</dt><dd id="run-count">{len(runs)}</dd><dt>succeeded</dt>'
        f"<dd>{ok}</dd><dt>failed or other</dt><dd>{len(runs) - ok}</dd><dt>from</dt>"
        f"<dd>{e(_when(t0))}</dd><dt>to</dt><dd>{e(_when(t1))}</dd></dl></header>"
    )
    # durations per step
    by_step: dict[str, list[tuple[datetime, str, float, str]]] = {}
    for d in runs:
        for s in d.steps:
            dur = step_duration(s)
            if dur is None:
                continue
            cls = "pt-bad" if s.status == "failed" else ""
            by_step.setdefault(s.step_name, []).append((d.run.started_at, d.run.run_id, dur, cls))
    rows = []
    for name, pts in by_step.items():
        values = [p[2] for p in pts]
        fails = sum(1 for p in pts if p[3])
        rows.append(
            f'<tr class="trend-step" data-step="{e(name)}"><td>{e(name)}</td>'
            f'<td>{_spark(pts, t0, t1, e, _secs)}</td><td class="num">{len(pts)}</td>'
            f'<td class="num">{_secs(values[-1])}</td>'
            f'<td class="num">{_secs(statistics.median(values))}</td>'
            f"<td>{'✗ ' + str(fails) + ' failed' if fails else ''}</td></tr>"
        )
    body.append(
        '<section id="durations"><h2>Duration per step</h2>'
        + (
            '<table><thead><tr><th>step</th><th>duration over time</th><th class="num">runs'
            '</th><th class="num">last</th><th class="num">median</th><th>failures</th></tr>'
            "</thead><tbody>" + "".join(rows) + "</tbody></table>"
            if rows
            else '<p class="note">No step durations recorded.</p>'
        )
        + "</section>"
    )
    # rows per stream
    marks = stream_events(runs, drop_threshold)
    marked = {(m.step, m.stream, m.run_id): m.kind for m in marks}
    srows = []
    for (step, stream), series in _stream_series(runs).items():
        points = [
            (
                at,
                rid,
                float(r),
                {"zero rows": "pt-bad", "sharp drop": "pt-warn"}.get(
                    marked.get((step, stream, rid), ""), ""
                ),
            )
            for at, rid, r in series
        ]
        flags = [marked[(step, stream, r)] for _, r, _ in series if (step, stream, r) in marked]
        srows.append(
            f'<tr class="trend-stream" data-step="{e(step)}" data-stream="{e(stream)}">'
            f"<td>{e(step)}</td><td>{e(stream)}</td>"
            f"<td>{_spark(points, t0, t1, e, _rows_text)}</td>"
            f'<td class="num">{_num(series[-1][2])}</td>'
            f"<td>{e(', '.join(f'⚠ {n} {k}' for k, n in _count(flags).items()))}</td></tr>"
        )
    body.append(
        '<section id="streams-trend"><h2>Rows per stream</h2>'
        f'<p class="note">Marked: <span class="bad">● red = zero rows</span>; '
        f'<span class="warn">● amber = sharp drop</span> (more than '
        f"{drop_threshold:.0%} below the median of the previous 7 runs).</p>"
        + (
            "<table><thead><tr><th>step</th><th>stream</th><th>rows committed over time</th>"
            '<th class="num">last</th><th>events</th></tr></thead><tbody>'
            + "".join(srows)
            + "</tbody></table>"
            if srows
            else '<p class="note">No per-stream counts recorded.</p>'
        )
        + "</section>"
    )
    erows = "".join(
        f'<tr class="trend-event" data-kind="{e(m.kind)}"><td>{e(_when(m.at))}</td>'
        f'<td class="mono">{e(m.run_id[:8])}</td><td>{e(m.step)}</td><td>{e(m.stream)}</td>'
        f'<td class="num">{_num(m.rows)}</td><td class="num">{_num(m.median_before)}</td>'
        f'<td><strong class="{"bad" if m.kind == "zero rows" else "warn"}">⚠ {e(m.kind)}'
        "</strong></td></tr>"
        for m in marks
    )
    body.append(
        '<section id="events"><h2>Zero-row and sharp-drop events</h2>'
        + (
            "<table><thead><tr><th>when</th><th>run</th><th>step</th><th>stream</th>"
            '<th class="num">rows</th><th class="num">median before</th><th>event</th></tr>'
            f"</thead><tbody>{erows}</tbody></table>"
            if marks
            else '<p class="ok">✓ None in this period.</p>'
        )
        + "</section>"
    )
    body.append(
        f'<footer class="note"><p>luigi-airbyte trend report · generated {e(_when(made))} '
        "from the metadata store</p></footer>"
    )
    return _page(title, body, e)


def _rows_text(value: float) -> str:
    return _num(int(value))


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def write_html(text: str, path: Path) -> Path:
    """Write a rendered report atomically (a reader never sees half a file)."""
    return _atomic_write(Path(path), text)
