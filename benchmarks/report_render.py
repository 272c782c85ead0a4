"""HTML run report: render time and file size for runs of 10, 100 and 1,000 steps.

Target (issue 13): a run of 1,000 steps renders in under 2 s into a file under 5 MB.
The floor printed beside it is ``json_report`` of the same run, measured in the same
process, so a slow machine moves both columns.

Each synthetic run is shaped like a big real one: a third syncs (3 streams each, with
five earlier runs' counts and an Airbyte job link), a third checks (counts details), a
third dbt/command steps; each step waits for one or two earlier steps; 2 % fail and what
waits for them is upstream_failed. Events are those a real run stores.

Usage: python benchmarks/report_render.py [--sizes 10 100 1000] [--repeat 5]
       [--results benchmarks/RESULTS.md]   (replaces this benchmark's section there)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))  # _results, also when a test loads this file

from _results import write_section  # noqa: E402

from luigi_airbyte.store import (  # noqa: E402
    CheckRecord,
    EventRecord,
    RunDetail,
    RunSummary,
    StepRecord,
    StreamStatRecord,
    json_report,
)
from luigi_airbyte.store.html_report import StepPlan, render_run_html  # noqa: E402

TARGET_S = 2.0
TARGET_BYTES = 5 * 1024 * 1024
BEGIN = "<!-- report_render: begin -->"
END = "<!-- report_render: end -->"

Synthetic = tuple[
    RunDetail,
    list[EventRecord],
    list[tuple[str, datetime, StreamStatRecord]],
    dict[str, StepPlan],
]


def synthetic_run(n: int, seed: int = 13) -> Synthetic:
    """A run of ``n`` steps with streams, checks, events, history and a dependency plan."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
    run_id = f"0b7e6f1e-0000-4000-8000-{n:012d}"
    kinds = ("sync", "check", "dbt", "command")
    steps: list[StepRecord] = []
    stats: list[StreamStatRecord] = []
    checks: list[CheckRecord] = []
    events: list[EventRecord] = []
    previous: list[tuple[str, datetime, StreamStatRecord]] = []
    plan: dict[str, StepPlan] = {}
    end_of: dict[str, datetime] = {}
    failed: set[str] = set()
    for i in range(n):
        kind = kinds[i % 4] if i % 3 else "sync"
        name = f"{kind}_{i:04d}"
        after = tuple(
            sorted({steps[rnd.randrange(i)].step_name for _ in range(rnd.randint(1, 2))})
            if i > 2
            else ()
        )
        ready = max((end_of[a] for a in after), default=t0)
        start = ready + timedelta(seconds=rnd.uniform(0, 5))
        end = start + timedelta(seconds=rnd.uniform(1, 120))
        status = "succeeded"
        if any(a in failed for a in after):
            status = "upstream_failed"
        elif rnd.random() < 0.02:
            status = "failed"
        if status in ("failed", "upstream_failed"):
            failed.add(name)
        ran = status != "upstream_failed"
        job = 1000 + i if kind == "sync" else None
        message = "[exit 5] Airbyte job failed: destination refused" if status == "failed" else ""
        steps.append(
            StepRecord(
                run_id,
                name,
                kind,
                status,
                start if ran else None,
                end if ran else None,
                (end - start).total_seconds() if ran else None,
                job,
                rnd.randint(0, 10**6) if kind == "sync" else None,
                message or None,
                "data-platform",
            )
        )
        end_of[name] = end if ran else ready
        plan[name] = StepPlan(after=after, connection=f"Source {i} → Warehouse")
        if ran:
            events.append(EventRecord(run_id, start, "step.started", "info", {"step": name}))
            events.append(EventRecord(run_id, end, f"step.{status}", "info", {"step": name}))
        if kind == "sync" and ran:
            url = f"https://airbyte.example.com/workspaces/w/connections/c{i}/job-history#{job}::0"
            events.append(
                EventRecord(
                    run_id,
                    start,
                    "sync.triggered",
                    "info",
                    {"step": name, "job_id": job, "how": "created", "job_url": url},
                )
            )
            events.append(
                EventRecord(run_id, end, "sync.succeeded", "info", {"step": name, "attempts": 1})
            )
            for s in range(3):
                rows = rnd.randint(0, 10**6)
                stats.append(
                    StreamStatRecord(run_id, name, job, f"stream_{s}", "public", rows, rows)
                )
                for back in range(1, 6):
                    previous.append(
                        (
                            f"prev{back:04d}-0000",
                            t0 - timedelta(days=back),
                            StreamStatRecord("p", name, job, f"stream_{s}", "public", rows, rows),
                        )
                    )
        if kind == "check" and ran:
            checks.append(
                CheckRecord(
                    run_id,
                    name,
                    f"counts:stream_{i}",
                    status == "succeeded",
                    "error",
                    f"stream_{i}: 100 rows; Airbyte committed 100 (tolerance 0)",
                    {"expected": 100, "actual": 100, "tolerance": 0, "table": f"t_{i}"},
                    end,
                )
            )
    finish = max(end_of.values(), default=t0)
    counts: dict[str, int] = {}
    for st in steps:
        counts[st.status] = counts.get(st.status, 0) + 1
    summary = RunSummary(
        run_id,
        "nightly",
        t0.date(),
        "failed" if failed else "succeeded",
        t0,
        finish,
        5 if failed else 0,
        "ci-7",
        "luigi-airbyte run pipeline.yaml",
        "local",
        None,
        "client 3f1c-demo",
        counts,
    )
    detail = RunDetail(summary, tuple(steps), tuple(stats), tuple(checks))
    return detail, events, previous, plan


def measure(n: int, repeat: int) -> dict[str, float]:
    detail, events, previous, plan = synthetic_run(n)
    html_times, json_times = [], []
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        text = render_run_html(detail, events=events, previous=previous, plan=plan)
        html_times.append(time.perf_counter() - start)
        size = len(text.encode("utf-8"))
        start = time.perf_counter()
        json.dumps(json_report(detail), default=str)
        json_times.append(time.perf_counter() - start)
    return {
        "steps": n,
        "render_s": statistics.median(html_times),
        "render_max_s": max(html_times),
        "json_s": statistics.median(json_times),
        "bytes": size,
    }


def table(rows: list[dict[str, float]], load: tuple[float, float]) -> str:
    lines = [
        f"HTML run report, median of the repeats; floor = json_report of the same run; "
        f"1-minute load {load[0]:.2f} -> {load[1]:.2f} on {os.cpu_count()} CPUs",
        f"{'steps':>6}  {'render s':>9}  {'max s':>7}  {'floor s':>8}  {'file KB':>8}  "
        f"{'< 2 s':>6}  {'< 5 MB':>6}",
    ]
    for r in rows:
        lines.append(
            f"{int(r['steps']):>6}  {r['render_s']:>9.3f}  {r['render_max_s']:>7.3f}  "
            f"{r['json_s']:>8.3f}  {r['bytes'] / 1024:>8.1f}  "
            f"{'yes' if r['render_max_s'] < TARGET_S else 'NO':>6}  "
            f"{'yes' if r['bytes'] < TARGET_BYTES else 'NO':>6}"
        )
    return "\n".join(lines)


def record(results: Path, text: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"{BEGIN}\n## HTML run report rendering (`benchmarks/report_render.py`)\n\n"
        f"`python benchmarks/report_render.py --results benchmarks/RESULTS.md` ({stamp}, "
        f"Python {platform.python_version()})\n\nTarget: 1,000 steps in under 2 s, into a "
        "file under 5 MB.\n\n```text\n" + text + "\n```\n" + END
    )
    write_section(results, BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--results", type=Path, help="record the table in this RESULTS.md")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    rows = [measure(n, args.repeat) for n in args.sizes]
    after = os.getloadavg()[0]
    text = table(rows, (before, after))
    print(text)
    if args.results is not None:
        record(args.results, text)


if __name__ == "__main__":
    main()
