"""Warm slots over a long run: does a slot grow as it runs sync after sync?

A slot (``tasks/warm_slots.py``) lives for the whole run and runs many syncs, where a
forked task process ran one. This runs ``luigi-airbyte run`` on N short syncs with W
workers against the sandbox, samples each slot's RSS every half second, and prints each
slot's RSS when first seen (its floor, measured in the same run) and at its last sample.

Usage: python benchmarks/slot_memory.py [--n 400] [--workers 4] [--job-seconds 0.2]
Target: a slot's growth stays small against its first RSS (no per-sync leak).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import BIN, env, world, write_pipeline

from luigi_airbyte.sandbox import Sandbox


def sample(n: int, workers: int, job_seconds: float) -> tuple[int, float, dict[int, list[float]]]:
    """Run once; return the exit code, the wall time and, for each child process of the
    run, ``pid -> [seconds into the run when first seen, first RSS, last RSS]``."""
    with tempfile.TemporaryDirectory(prefix="bench-slots-") as tmp:
        root = Path(tmp)
        data = world(n, job_seconds)
        data["destinations"][0]["path"] = str(root / "wh.duckdb")
        with Sandbox(data) as sandbox:
            path = write_pipeline(root, sandbox.url, n)
            argv = [str(BIN / "luigi-airbyte"), "run", str(path), "--workers", str(workers)]
            argv += ["--date", "2026-01-15", "--skip-preflight", "--json"]
            started = time.perf_counter()
            proc = subprocess.Popen(
                argv, cwd=root, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            seen: dict[int, list[float]] = {}  # pid -> [first seen at, first RSS, last RSS]
            while proc.poll() is None:
                try:
                    children = psutil.Process(proc.pid).children()
                except psutil.NoSuchProcess:
                    break
                for child in children:
                    try:
                        rss = child.memory_info().rss / 1e6
                        if child.status() == psutil.STATUS_ZOMBIE or rss == 0:
                            continue
                    except psutil.NoSuchProcess:
                        continue
                    at = time.perf_counter() - started
                    seen.setdefault(child.pid, [at, rss, rss])[2] = rss
                time.sleep(0.5)
            return proc.wait(), time.perf_counter() - started, seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--job-seconds", type=float, default=0.2)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    code, wall, seen = sample(args.n, args.workers, args.job_seconds)
    print(
        f"{args.n} syncs of {args.job_seconds} s, {args.workers} workers: exit {code}, "
        f"{wall:.0f} s, 1-minute load {load:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    print(f"about {args.n / args.workers:.0f} syncs per slot")
    print("| child process | first seen | RSS first seen | RSS at the end | growth |")
    print("|---|---|---|---|---|")
    for i, (at, first, last) in enumerate(seen.values(), 1):
        print(f"| {i} | {at:.0f} s | {first:.1f} MB | {last:.1f} MB | {last - first:+.1f} MB |")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
