"""Freshness: a fully fresh run of N syncs against the all-complete floor (issue 10).

Every connection has one succeeded job a moment ago (created through the sandbox engine),
and every step has ``freshness: 6h``, so nothing syncs: the run only asks Airbyte whether
the data is fresh. The floor is the same graph shape of plain Luigi tasks that are all
complete, with the same workers, measured in the same run.

Usage: python benchmarks/freshness.py [--n 1000] [--workers 8] [--repeat 1] [--json]
With ``--repeat K`` the run and the floor alternate K times (each run on a fresh state
folder, against the same sandbox) and the best of each is compared: on a shared machine
the load moves single runs by 2x.
Targets: <= 25 requests at N = 1,000 (one token, one connection listing, one recent-jobs
listing at 100 a page); wall time <= 3x the floor.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import run_cli, run_floor, world, write_pipeline

from luigi_airbyte.sandbox import Sandbox


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument(
        "--sync-each", action="store_true", help="one sync_each step instead of N sync steps"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs and floors, best of each")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory(prefix="bench-fresh-") as tmp:
        root = Path(tmp)
        data = world(n, 0.0)
        data["destinations"][0]["path"] = str(root / "wh.duckdb")
        with Sandbox(data) as sandbox:
            engine = sandbox.engine
            for conn in sandbox.world.connections:
                engine.create_job(sandbox.world.connection_id(conn), "sync")
            deadline = time.monotonic() + 300
            while len(engine.terminal_times()) < n:
                if time.monotonic() > deadline:
                    raise TimeoutError("history jobs did not finish")
                time.sleep(0.05)
            walls, floors, reqs = [], [], []
            for i in range(max(1, args.repeat)):
                (root / f"r{i}").mkdir()
                path = write_pipeline(
                    root / f"r{i}", sandbox.url, n, freshness="6h", each=args.sync_each
                )
                sandbox.clear_requests()
                walls.append(run_cli(path, args.workers, None, "2026-01-15"))
                reqs = reqs or sandbox.requests()
                floors.append(run_floor(n, args.workers, 0.0, None, done=True))
    wall, floor = min(walls), min(floors)
    kinds = collections.Counter(r["endpoint"] or r["path"] for r in reqs)
    row = {
        "n": n,
        "workers": args.workers,
        "wall_s": wall,
        "floor_s": floor,
        "ratio": wall / floor,
        "walls_s": walls,
        "floors_s": floors,
        "requests": len(reqs),
        "list_jobs": kinds.get("GET /jobs", 0),
        "top": kinds.most_common(5),
    }
    if args.json:
        print(json.dumps(row, indent=2))
        return 0
    print("| N fresh syncs, workers | luigi-airbyte | floor (all complete) | ratio | requests |")
    print("|---|---|---|---|---|")
    print(
        f"| {n:,}, {args.workers} | {wall:.2f} s | {floor:.2f} s | {row['ratio']:.1f}x | "
        f"{len(reqs):,} ({row['list_jobs']} GET /jobs) |"
    )
    if len(walls) > 1:
        print()
        print(f"best of {len(walls)}; runs: " + ", ".join(f"{w:.2f}" for w in walls))
        print("floors: " + ", ".join(f"{f:.2f}" for f in floors))
    print()
    print("requests: " + ", ".join(f"{k} {v}" for k, v in row["top"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
