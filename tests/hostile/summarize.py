"""Add up the JSON block reports of ``make hostile`` and print the table for RESULTS.md.

Usage: ``python tests/hostile/summarize.py REPORT_DIR [WALL_SECONDS [LOAD_AT_START]]``; exits
1 if any trial was judged a bug (its seed and what disagreed are printed).
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    folder = Path(argv[1])
    wall = float(argv[2]) if len(argv) > 2 else None
    load_start = argv[3] if len(argv) > 3 else "-"
    trials = []
    for path in sorted(folder.glob("*.json")):
        trials.extend(json.loads(path.read_text(encoding="utf-8"))["trials"])
    cli = [t for t in trials if t.get("cli")]
    cli_verdicts = collections.Counter(t["verdict"] for t in cli)
    hooked = [t for t in cli if t.get("hooks")]
    pushes: collections.Counter[str] = collections.Counter()
    for t in hooked:
        pushes.update(t.get("pushes", {}))
    verdicts = collections.Counter(t["verdict"] for t in trials)
    kinds: collections.Counter[str] = collections.Counter()
    points: collections.Counter[str] = collections.Counter()
    requests = swallowed = on_create = 0
    duplicates = retried = 0
    for t in trials:
        stats = t["stats"]
        kinds.update(stats.get("by_kind", {}))
        points.update(stats.get("by_point", {}))
        requests += stats.get("requests", 0)
        swallowed += stats.get("swallowed", 0)
        on_create += stats.get("on_create", 0)
        retried += len(t.get("retried_failed", []))
        duplicates += sum(max(len(js) - 1, 0) for js in t["jobs"].values())
    duplicates -= retried
    failing = sum(1 for t in trials if t["failing"])
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    rows = [
        ("seeded runs (3-sync pipeline)", len(trials)),
        ("  of which through the real CLI (no stalls)", len(cli)),
        (
            "    CLI runs direct / re-run / bug",
            "{direct} / {rerun} / {bug}".format_map(cli_verdicts),
        ),
        ("    of which with Airbyte's webhooks", len(hooked)),
        (
            "      pushes sent / dropped / replayed / failed",
            "{sent} / {dropped} / {replayed} / {failed}".format_map(pushes),
        ),
        ("  of which one connection's job truly fails", failing),
        ("ended in the true state directly", verdicts["direct"]),
        ("ended in error, converged on a fault-free re-run", verdicts["rerun"]),
        ("bugs (duplicate job, wrong state, store disagrees)", verdicts["bug"]),
        ("duplicate Airbyte jobs (beyond one per run key)", duplicates),
        ("re-runs that retried a truly failed job (by design)", retried),
        ("requests through the proxy", requests),
        ("faults injected", sum(kinds.values())),
        *((f"  {k}", n) for k, n in sorted(kinds.items())),
        *((f"    {p}", n) for p, n in sorted(points.items())),
        ("  of which on POST /jobs", on_create),
        ("requests swallowed by a slow close", swallowed),
        ("wall time (s)", f"{wall:.0f}" if wall is not None else "-"),
        ("summed trial time (s)", f"{sum(t['seconds'] for t in trials):.0f}"),
        ("load average at the start (1/5/15 min)", load_start),
        ("load average at the end (1/5/15 min)", " ".join(loadavg)),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'what':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    bugs = [t for t in trials if t["verdict"] == "bug"]
    for t in bugs:
        print(f"BUG seed {t['seed']}: exit codes {t['exit_codes']}; {'; '.join(t['problems'])}")
    faults = {k for path in folder.glob("*.json") for k in json.loads(path.read_text())["faults"]}
    missing = sorted(faults - set(kinds))
    if missing:
        print(f"NOT SWEPT: no {', '.join(missing)} fault was injected in the whole sweep")
    return 1 if bugs or missing or not on_create else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
