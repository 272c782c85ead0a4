"""The trend report: rows per stream over recent runs, with zero-row and sharp-drop points.

One self-contained HTML file, drawn here from store records; see docs/reports.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from luigi_airbyte.store._html import Redact, _num, _page, _secs, _stream_name, _Text, _when
from luigi_airbyte.store.reports import step_duration
from luigi_airbyte.store.runs import RunDetail


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
    marks = stream_events(runs, drop_threshold)
    body.append(_durations_section(runs, t0, t1, e))
    body.append(_streams_section(runs, marks, t0, t1, drop_threshold, e))
    body.append(_events_section(marks, e))
    body.append(
        f'<footer class="note"><p>luigi-airbyte trend report · generated {e(_when(made))} '
        "from the metadata store</p></footer>"
    )
    return _page(title, body, e)


def _durations_section(runs: Sequence[RunDetail], t0: datetime, t1: datetime, e: _Text) -> str:
    """One row per step: its duration over time, last and median, and its failures."""
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
    return (
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


def _streams_section(
    runs: Sequence[RunDetail],
    marks: Sequence[TrendEvent],
    t0: datetime,
    t1: datetime,
    drop_threshold: float,
    e: _Text,
) -> str:
    """One row per stream: rows committed over time, zero-row and sharp-drop points marked."""
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
    return (
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


def _events_section(marks: Sequence[TrendEvent], e: _Text) -> str:
    """The zero-row and sharp-drop events, listed."""
    erows = "".join(
        f'<tr class="trend-event" data-kind="{e(m.kind)}"><td>{e(_when(m.at))}</td>'
        f'<td class="mono">{e(m.run_id[:8])}</td><td>{e(m.step)}</td><td>{e(m.stream)}</td>'
        f'<td class="num">{_num(m.rows)}</td><td class="num">{_num(m.median_before)}</td>'
        f'<td><strong class="{"bad" if m.kind == "zero rows" else "warn"}">⚠ {e(m.kind)}'
        "</strong></td></tr>"
        for m in marks
    )
    return (
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


def _rows_text(value: float) -> str:
    return _num(int(value))


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out
