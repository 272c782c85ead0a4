"""Scale: ``luigi-airbyte run`` of N syncs of 1 s against the sleep floor (issue 10).

For each N, workers count and scheduler (local, luigid), one run against a fresh sandbox
(no job history) and a floor of the same graph shape built from plain Luigi tasks that each
sleep as long as a sync takes, with the same workers, measured in the same run. Prints the
ratio and the Airbyte API requests per sync (from the sandbox's request journal).

Usage: python benchmarks/scale.py [--sizes 10 100] [--big] [--workers 1 8]
       [--schedulers local luigid] [--job-seconds 1] [--json]
``--big`` adds N = 1,000. Targets: ratio <= 1.10 (1.05 at N = 1,000); <= 3 requests/sync.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import BIN, env, luigid, run_cli, run_floor, world, write_pipeline

from luigi_airbyte.sandbox import Sandbox


def one(
    n: int, workers: int, scheduler: str, job_seconds: float, each: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        data = world(n, job_seconds)
        data["destinations"][0]["path"] = str(root / "wh.duckdb")
        with Sandbox(data) as sandbox:
            path = write_pipeline(root, sandbox.url, n, each=each)
            sandbox.clear_requests()
            if scheduler == "luigid":
                with luigid() as url:
                    wall = run_cli(path, workers, url, "2026-01-15")
                    floor = run_floor(n, workers, job_seconds, url)
            else:
                wall = run_cli(path, workers, None, "2026-01-15")
                floor = run_floor(n, workers, job_seconds, None)
            reqs = sandbox.requests()
    kinds = collections.Counter(r["endpoint"] or r["path"] for r in reqs)
    return {
        "n": n,
        "workers": workers,
        "scheduler": scheduler,
        "wall_s": wall,
        "floor_s": floor,
        "ratio": wall / floor,
        "requests": len(reqs),
        "per_sync": len(reqs) / n,
        "top": kinds.most_common(4),
    }


def startup(repeat: int = 7) -> tuple[float, float]:
    """Median wall time of ``luigi-airbyte --help`` and of ``python -c "import luigi"``."""

    def median(argv: list[str]) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(argv, env=env(), capture_output=True, check=True, timeout=120)
            times.append(time.perf_counter() - t0)
        return sorted(times)[len(times) // 2]

    return (
        median([str(BIN / "luigi-airbyte"), "--help"]),
        median([sys.executable, "-c", "import luigi"]),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--big", action="store_true", help="add N = 1,000")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--schedulers", nargs="+", default=["local", "luigid"])
    ap.add_argument("--job-seconds", type=float, default=1.0)
    ap.add_argument(
        "--sync-each", action="store_true", help="one sync_each step instead of N sync steps"
    )
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    sizes = [*args.sizes, *([1000] if args.big else [])]
    help_s, luigi_s = startup()
    rows = []
    for n in sizes:
        for workers in args.workers:
            for scheduler in args.schedulers:
                if n >= 100 and workers == 1 and scheduler == "luigid":
                    continue  # as slow as local with one worker, and says nothing new
                print(f"== N={n} workers={workers} {scheduler}", file=sys.stderr, flush=True)
                rows.append(one(n, workers, scheduler, args.job_seconds, args.sync_each))
    if args.json:
        print(json.dumps({"rows": rows, "help_s": help_s, "import_luigi_s": luigi_s}, indent=2))
        return 0
    print("| start-up | median | target |")
    print("|---|---|---|")
    print(f"| `luigi-airbyte --help` | {help_s:.3f} s | <= 0.35 s |")
    print(f"| `python -c 'import luigi'` (reference) | {luigi_s:.3f} s | |")
    print()
    print("| N syncs, workers, scheduler | luigi-airbyte | floor | ratio | API requests per sync |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']:,}, {r['workers']}, {r['scheduler']} | {r['wall_s']:.1f} s | "
            f"{r['floor_s']:.1f} s | {r['ratio']:.2f}x | {r['per_sync']:.1f} |"
        )
    print()
    print("Most frequent requests per row: ")
    for r in rows:
        top = ", ".join(f"{k} {v}" for k, v in r["top"])
        print(f"- N={r['n']} w={r['workers']} {r['scheduler']}: {top}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
