"""In flight: what 50 waiting syncs cost Airbyte and the host, with the job watcher and without.

One ``luigi-airbyte run`` of N syncs (one ``sync_each`` step) with N workers, so every
sync is in flight at once, against a fresh sandbox whose jobs last ``--job-seconds``.
Once every job is running, a window of ``--window`` seconds is measured:

- Airbyte requests per second while waiting, from the sandbox's request journal;
- memory of the run's process tree, from ``/proc/<pid>/smaps_rollup``: PSS (each shared
  page split between the processes that map it) summed over the tree and divided by N,
  and the mean RSS of a worker process beside it (RSS counts shared pages in full).

The baseline is the same run with ``LUIGI_AIRBYTE_WATCHER=off`` (each task polls its own
job, as before the watcher), measured in the same invocation.

Usage: python benchmarks/inflight.py [--n 50] [--job-seconds 40] [--window 15] [--json]
       [--only on|off] [--results benchmarks/RESULTS.md]   (replaces this benchmark's
       section there; not with --only)
Targets (issue 10): <= 2 Airbyte requests per second while waiting; <= 25 MB PSS per
in-flight sync.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_section
from _runs import BIN, env, world, write_pipeline

from luigi_airbyte.sandbox import Sandbox

BEGIN = "<!-- inflight: begin -->"
END = "<!-- inflight: end -->"
TARGET_RPS = 2.0
TARGET_PSS_MB = 25.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree[ppid].append(int(entry.name))
    return tree


def _tree(root: int) -> list[int]:
    children, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory(pid: int) -> tuple[float, float] | None:
    """(PSS, RSS) of one process in MB, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) / 1024
    return fields.get("Pss", 0.0), fields.get("Rss", 0.0)


def sample(root: int) -> dict[str, float]:
    pids = _tree(root)
    mem = {pid: m for pid in pids if (m := _memory(pid)) is not None}
    workers = [m for pid, m in mem.items() if pid != root]
    return {
        "processes": len(mem),
        "pss_total": sum(p for p, _ in mem.values()),
        "rss_worker": statistics.fmean(r for _, r in workers) if workers else 0.0,
        "pss_worker": statistics.fmean(p for p, _ in workers) if workers else 0.0,
        "rss_root": mem.get(root, (0.0, 0.0))[1],
    }


def measure(n: int, job_seconds: float, window: float, watcher: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-inflight-") as tmp:
        root = Path(tmp)
        data = world(n, job_seconds)
        data["destinations"][0]["path"] = str(root / "wh.duckdb")
        with Sandbox(data) as sandbox:
            path = write_pipeline(root, sandbox.url, n, max_syncs=n, each=True)
            argv = [str(BIN / "luigi-airbyte"), "run", str(path), "--workers", str(n)]
            argv += ["--date", "2026-01-15", "--skip-preflight", "--json"]
            run_env = {**env(), "LUIGI_AIRBYTE_WATCHER": "on" if watcher else "off"}
            proc = subprocess.Popen(
                argv,
                cwd=root,
                env=run_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + max(120.0, job_seconds)
            while True:
                running = [j for j in sandbox.engine.list_jobs() if j["status"] == "running"]
                if len(running) >= n:
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    _out, err = proc.communicate()
                    raise RuntimeError(f"only {len(running)} of {n} jobs ran\n{err[-3000:]}")
                time.sleep(0.2)
            time.sleep(2.0)  # past the first polls after the trigger
            before, t0 = len(sandbox.requests()), time.monotonic()
            samples = []
            while time.monotonic() - t0 < window:
                samples.append(sample(proc.pid))
                time.sleep(1.0)
            after, t1 = sandbox.requests(), time.monotonic()
            still = sum(1 for j in sandbox.engine.list_jobs() if j["status"] == "running")
            _out, err = proc.communicate(timeout=job_seconds + 600)
            if proc.returncode != 0:
                raise RuntimeError(f"run exited {proc.returncode}\n{err[-3000:]}")
    in_window = after[before:]
    kinds = collections.Counter(r["endpoint"] or r["path"] for r in in_window)
    pss = statistics.median(s["pss_total"] for s in samples)
    return {
        "watcher": watcher,
        "n": n,
        "window_s": t1 - t0,
        "still_running_at_end": still,
        "requests": len(in_window),
        "rps": len(in_window) / (t1 - t0),
        "kinds": kinds.most_common(4),
        "processes": statistics.median(s["processes"] for s in samples),
        "pss_per_sync_mb": pss / n,
        "pss_worker_mb": statistics.median(s["pss_worker"] for s in samples),
        "rss_worker_mb": statistics.median(s["rss_worker"] for s in samples),
        "rss_run_process_mb": statistics.median(s["rss_root"] for s in samples),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--job-seconds", type=float, default=40.0)
    ap.add_argument("--window", type=float, default=15.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--only",
        choices=("on", "off"),
        help="measure only the run with the watcher on (or off), to save a run while developing",
    )
    ap.add_argument("--results", type=Path, help="record the table in this RESULTS.md")
    args = ap.parse_args()
    if not Path("/proc/self/smaps_rollup").exists():
        print("needs Linux /proc/<pid>/smaps_rollup", file=sys.stderr)
        return 2
    if args.only and args.results is not None:
        ap.error("--results records both runs: leave out --only")
    load = os.getloadavg()[0]
    modes = [False, True] if args.only is None else [args.only == "on"]
    rows = [measure(args.n, args.job_seconds, args.window, watcher=mode) for mode in modes]
    load_after = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"rows": rows, "load": [load, load_after]}, indent=2))
        return 0
    text = report(args, rows, (load, load_after))
    print(text)
    if args.results is not None:
        record(args.results, text, args)
    return 0


def report(args: argparse.Namespace, rows: list[dict[str, Any]], load: tuple[float, float]) -> str:
    lines = [
        f"{args.n} syncs in flight (jobs of {args.job_seconds:.0f} s, {args.n} workers, local "
        f"scheduler), measured over {args.window:.0f} s once every job ran; 1-minute load "
        f"{load[0]:.1f} -> {load[1]:.1f} on {os.cpu_count()} CPUs",
        "",
        "| mode | Airbyte requests/s while waiting | requests in window | PSS per in-flight "
        "sync | worker PSS | worker RSS | run process RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        mode = "watcher on" if row["watcher"] else "watcher off (baseline: a GET per job)"
        lines.append(
            f"| {mode} | {row['rps']:.2f} | {row['requests']} | {row['pss_per_sync_mb']:.1f} MB "
            f"| {row['pss_worker_mb']:.1f} MB | {row['rss_worker_mb']:.1f} MB "
            f"| {row['rss_run_process_mb']:.1f} MB |"
        )
    lines.append("")
    for row in rows:
        mode = "watcher on" if row["watcher"] else "watcher off"
        lines.append(f"{mode}: " + ", ".join(f"{k} {v}" for k, v in row["kinds"]))
    on = rows[-1]
    if not on["watcher"]:
        return "\n".join(lines)
    rps_ok = on["rps"] <= TARGET_RPS
    pss_ok = on["pss_per_sync_mb"] <= TARGET_PSS_MB
    lines += [
        "",
        f"watcher on: {on['rps']:.2f} requests/s (target <= {TARGET_RPS:.0f}) -> "
        f"{'target met' if rps_ok else 'target NOT met'}; {on['pss_per_sync_mb']:.1f} MB PSS "
        f"per in-flight sync (target <= {TARGET_PSS_MB:.0f}) -> "
        f"{'target met' if pss_ok else 'target NOT met'}",
    ]
    return "\n".join(lines)


def record(results: Path, text: str, args: argparse.Namespace) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    command = f"python benchmarks/inflight.py --n {args.n} --job-seconds {args.job_seconds:g}"
    section = (
        f"{BEGIN}\n## Syncs in flight (`benchmarks/inflight.py`)\n\n"
        f"`{command} --window {args.window:g} --results benchmarks/RESULTS.md` ({stamp}, code "
        f"{rev}, Python {platform.python_version()})\n\n"
        "Targets (issue 10): <= 2 Airbyte requests per second while waiting; <= 25 MB PSS per "
        "in-flight sync, RSS beside it. The baseline row is the same run with "
        "`LUIGI_AIRBYTE_WATCHER=off`, measured in the same invocation.\n\n"
        "```text\n" + text + "\n```\n" + END
    )
    write_section(results, BEGIN, END, section)


if __name__ == "__main__":
    raise SystemExit(main())
