"""The run report's timeline: steps in dependency order, as bars on a time axis (SVG)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from luigi_airbyte.store._html import _STATUS_TEXT, StepPlan, _secs, _short, _Text
from luigi_airbyte.store.reports import step_duration
from luigi_airbyte.store.runs import EventRecord, RunDetail, StepRecord

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


def _axis(span: float, left: float, chart_w: float, top: int, height: int) -> list[str]:
    """Vertical lines at round offsets from the run's start, each labelled ``+<time>``."""
    out = []
    tick = _nice_step(span)
    n = 0
    while n * tick <= span + 1e-9 and n < 200:
        tx = left + chart_w * n * tick / span
        out.append(
            f'<line class="axis" x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 8}"/>'
            f'<text class="lbl" x="{tx:.1f}" y="{top - 10}" text-anchor="middle">'
            f"+{_secs(n * tick)}</text>"
        )
        n += 1
    return out


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
    out += _axis(span, label_w, chart_w, top, height)
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
