"""Scale: ``luigi-airbyte run`` of N syncs of 1 s against the sleep floor (issue 10).

For each N, workers count and scheduler (local, luigid), one run against a fresh sandbox
(no job history) and a floor of the same graph shape built from plain Luigi tasks that each
sleep as long as a sync takes, with the same workers, measured in the same run. Prints the
ratio, the Airbyte API requests per sync (from the sandbox's request journal) and the CPU
per sync of the run's whole process tree beside the floor's (``getrusage`` of children).

``--phases`` adds where each sync's time goes, as medians over the run's syncs (from the
run's events.jsonl and the sandbox's request journal and job end times): the run's
start-up (process start to the first task's start), task start to ``POST /jobs``, ``POST``
to the job's end in the sandbox, the end to the task learning it, learning it to the
task's end, a task's end to the next task's start, the last task's end to the exit, and
how many tasks learned their job's end within 50 ms of each other (lock-step).
``--watcher on off`` runs each row with the host's job watcher and without it
(``LUIGI_AIRBYTE_WATCHER``), back to back against the same floor; ``hooks`` is the watcher
with Airbyte pushing each sync's completion to the run's webhook receiver (the sandbox's
workspace set up by ``luigi-airbyte webhook configure`` before the timed run); ``on-fork``
is the watcher with a fork per sync (``LUIGI_AIRBYTE_WARM_SYNCS=off``), as before warm
slots (``tasks/warm_slots.py``).

``--store sqlite postgres`` runs each row with the default SQLite store and with a
PostgreSQL store (``LUIGI_AIRBYTE_STORE__URL``; a throwaway server from
``tests/pg_server.py``, a fresh database per run), as a deployment that outgrew one machine
does: under luigid, its hosts share that store. ``--store-rtt-ms 1`` reaches that server
through a relay that adds 1 ms to each round trip (``_delay_relay.py``): a managed
PostgreSQL a zone away, where a store's round trips show.

``--deps-floor`` also measures the floor that first imports the third-party libraries a run
must load before its first sync (``_runs.RUN_DEPS``) and prints each row against it: that
floor's own ratio is what those imports alone cost, before any of our code runs.

Usage: python benchmarks/scale.py [--sizes 10 100] [--big] [--workers 1 8]
       [--schedulers local luigid] [--job-seconds 1] [--watcher on] [--phases]
       [--store sqlite postgres] [--store-rtt-ms 1] [--deps-floor] [--json]
``--big`` adds N = 1,000. Targets: ratio <= 1.10 (1.05 at N = 1,000); <= 3 requests/sync.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _delay_relay import relayed
from _runs import (
    BIN,
    RUN_DEPS,
    compile_package,
    env,
    free_port,
    luigid,
    run_cli,
    run_floor,
    world,
    write_pipeline,
)

from luigi_airbyte.sandbox import Sandbox
from pg_server import PostgresServer


def one(
    n: int,
    workers: int,
    scheduler: str,
    job_seconds: float,
    each: bool = False,
    watchers: tuple[str, ...] = ("on",),
    deps_floor: bool = False,
    stores: tuple[str, ...] = ("sqlite",),
    pg: PostgresServer | None = None,
    pg_port: int | None = None,
) -> list[dict[str, Any]]:
    """One row per watcher mode and store, each against a fresh sandbox (and a fresh
    database), and one floor for them all (and, with ``deps_floor``, the floor that first
    imports ``RUN_DEPS``)."""
    runs = []

    def scheduler_url() -> contextlib.AbstractContextManager[str | None]:
        # A fresh luigid for each run: one that ran the same task ids a moment ago still
        # counts the first run's worker as theirs, and the second run finds them pending.
        return luigid() if scheduler == "luigid" else contextlib.nullcontext()

    for watcher in watchers:
        for store in stores:
            store_url = None
            if store == "postgres":
                assert pg is not None
                store_url = pg.create_database(f"scale_{next(_DATABASES)}")
                store_url = store_url.replace(f":{pg.port}/", f":{pg_port or pg.port}/")
            with scheduler_url() as url:
                measured = _measure(n, workers, url, job_seconds, each, watcher, store_url)
            runs.append((watcher, store, measured))
    with scheduler_url() as url:
        before = _children_cpu()
        floor = run_floor(n, workers, job_seconds, url)
        floor_cpu = _children_cpu() - before
    deps = None
    if deps_floor:
        with scheduler_url() as url:
            deps = run_floor(n, workers, job_seconds, url, preload=RUN_DEPS)
    rows = []
    for watcher, store, (wall, reqs, phases, cpu) in runs:
        kinds = collections.Counter(r["endpoint"] or r["path"] for r in reqs)
        rows.append(
            {
                "n": n,
                "workers": workers,
                "scheduler": scheduler,
                "watcher": watcher,
                "store": store,
                "wall_s": wall,
                "floor_s": floor,
                "ratio": wall / floor,
                "deps_floor_s": deps,
                "deps_floor_ratio": None if deps is None else deps / floor,
                "ratio_to_deps_floor": None if deps is None else wall / deps,
                "requests": len(reqs),
                "per_sync": len(reqs) / n,
                "cpu_ms_per_sync": cpu / n * 1000,
                "floor_cpu_ms_per_sync": floor_cpu / n * 1000,
                "top": kinds.most_common(4),
                "phases": phases,
            }
        )
    return rows


_DATABASES = itertools.count()


def _measure(
    n: int,
    workers: int,
    url: str | None,
    job_seconds: float,
    each: bool,
    watcher: str,
    store_url: str | None = None,
) -> tuple[float, list[dict[str, Any]], dict[str, float], float]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        data = world(n, job_seconds)
        data["destinations"][0]["path"] = str(root / "wh.duckdb")
        with Sandbox(data) as sandbox:
            path = write_pipeline(root, sandbox.url, n, each=each)
            extra = {"LUIGI_AIRBYTE_WATCHER": "off" if watcher == "off" else "on"}
            if store_url:
                extra["LUIGI_AIRBYTE_STORE__URL"] = store_url
            if watcher == "on-fork":  # before warm slots: a fork per sync
                extra["LUIGI_AIRBYTE_WARM_SYNCS"] = "off"
            if watcher == "hooks":
                extra["LUIGI_AIRBYTE_WEBHOOK__LISTEN"] = f"127.0.0.1:{free_port()}"
                configure = [str(BIN / "luigi-airbyte"), "webhook", "configure", str(path)]
                subprocess.run(
                    configure,
                    cwd=root,
                    env={**env(), **extra},
                    check=True,
                    timeout=120,
                    capture_output=True,
                )
            sandbox.clear_requests()
            compile_package()  # before the clock: the first run's start-up phase paid it
            started = time.time()
            before = _children_cpu()
            wall = run_cli(path, workers, url, "2026-01-15", extra_env=extra)
            cpu = _children_cpu() - before
            reqs = sandbox.requests()
            ends = sandbox.terminal_times()
        phases = _phases(root / "state" / "events.jsonl", reqs, ends, started, wall)
    return wall, reqs, phases, cpu


def _children_cpu() -> float:
    """CPU seconds of this process's ended children and their waited-for descendants: a
    run's whole process tree once it exited (its task processes and slots included)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _phases(
    events_path: Path,
    reqs: list[dict[str, Any]],
    ends: dict[int, float],
    started: float,
    wall: float,
) -> dict[str, float]:
    """Medians of each phase of a sync, in seconds (see the module's docstring)."""
    steps: dict[str, dict[str, float]] = {}
    for line in events_path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        step = event.get("step")
        if not step:
            continue
        at = datetime.fromisoformat(event["at"]).timestamp()
        mark = steps.setdefault(step, {})
        name = event["event"]
        if name == "sync.triggered":
            mark["job"] = float(event["job_id"])
        if name == "sync.status" and event.get("status") in ("succeeded", "failed", "cancelled"):
            name = "learned"
        mark.setdefault(name, at)
    posts = sorted(r["time"] for r in reqs if r.get("endpoint") == "POST /jobs")
    done = [m for m in steps.values() if {"step.started", "learned", "step.succeeded"} <= m.keys()]
    if not done or not posts:
        return {}
    starts = sorted(m["step.started"] for m in done)
    finishes = sorted(m["step.succeeded"] for m in done)
    learned = sorted(m["learned"] for m in done)

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    ended = [m for m in done if int(m.get("job", -1)) in ends]
    return {
        "startup": starts[0] - started,
        "start_to_post": med([m["sync.triggered"] - m["step.started"] for m in done]),
        "post_to_end": med([ends[int(m["job"])] - m["sync.triggered"] for m in ended]),
        "end_to_learned": med([m["learned"] - ends[int(m["job"])] for m in ended]),
        "end_to_learned_mean": statistics.mean(
            [m["learned"] - ends[int(m["job"])] for m in ended] or [float("nan")]
        ),
        "learned_to_done": med([m["step.succeeded"] - m["learned"] for m in done]),
        "done_to_next_start": med(
            [min(s for s in starts if s >= f) - f for f in finishes if any(s >= f for s in starts)]
        ),
        "exit": started + wall - finishes[-1],
        "lockstep": med([sum(1 for o in learned if abs(o - t) < 0.05) for t in learned]),
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


_PHASES = [
    ("startup", "start-up"),
    ("start_to_post", "task start -> POST"),
    ("post_to_end", "POST -> job end"),
    ("end_to_learned", "job end -> task learns it (median)"),
    ("end_to_learned_mean", "job end -> task learns it (mean)"),
    ("learned_to_done", "learns it -> task end"),
    ("done_to_next_start", "task end -> next task start"),
    ("exit", "last task end -> exit"),
    ("lockstep", "tasks learning within 50 ms of each other"),
]


def _phase_table(rows: list[dict[str, Any]]) -> str:
    """Seconds per phase (medians over the syncs of a row), one column per row."""
    head = [f"N={r['n']} w={r['workers']} {r['scheduler']} {r['watcher']}{_store(r)}" for r in rows]
    lines = ["| phase | " + " | ".join(head) + " |", "|---" * (len(rows) + 1) + "|"]
    for key, label in _PHASES:
        cells = []
        for r in rows:
            value = r["phases"].get(key)
            if value is None:
                cells.append("-")
            elif key == "lockstep":
                cells.append(f"{value:.0f}")
            else:
                cells.append(f"{value:.3f} s")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _store(row: dict[str, Any], sep: str = " ") -> str:
    """The row's store in its label: nothing for the default (SQLite)."""
    return "" if row["store"] == "sqlite" else f"{sep}{row['store']}"


def _deps_table(rows: list[dict[str, Any]]) -> str:
    """Each row against the floor that first imports ``RUN_DEPS``: that floor's own ratio is
    what importing the libraries alone costs, before any of our code runs."""
    lines = [
        "| N syncs, workers, scheduler, watcher | floor | floor + run's libraries "
        "| its ratio to the floor | luigi-airbyte to it |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,}, {r['workers']}, {r['scheduler']}, {r['watcher']}{_store(r, ', ')} | "
            f"{r['floor_s']:.2f} s | {r['deps_floor_s']:.2f} s | {r['deps_floor_ratio']:.2f}x | "
            f"{r['ratio_to_deps_floor']:.2f}x |"
        )
    return "\n".join(lines)


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
    ap.add_argument(
        "--watcher",
        nargs="+",
        choices=["on", "off", "hooks", "on-fork"],
        default=["on"],
        help="run each row with the host's job watcher on, off, on with Airbyte's webhooks "
        "(hooks), on with a fork per sync instead of warm slots (on-fork), or several back "
        "to back",
    )
    ap.add_argument("--phases", action="store_true", help="print where each sync's time goes")
    ap.add_argument(
        "--deps-floor",
        action="store_true",
        help="also measure the floor that first imports the libraries a run needs before its "
        "first sync (RUN_DEPS: SQLAlchemy, pydantic, httpx, click, ruamel.yaml)",
    )
    ap.add_argument(
        "--store",
        nargs="+",
        choices=["sqlite", "postgres"],
        default=["sqlite"],
        help="run each row with the default SQLite store, a PostgreSQL store (a throwaway "
        "server, a fresh database per run), or both back to back",
    )
    ap.add_argument(
        "--store-rtt-ms",
        type=float,
        default=0.0,
        help="with --store postgres, reach the server through a relay that adds this many "
        "ms to each round trip (a managed PostgreSQL a zone away: ~1 ms)",
    )
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        pg = pg_port = None
        if "postgres" in args.store:
            pg = stack.enter_context(PostgresServer.start())
            pg_port = pg.port
            if args.store_rtt_ms:
                pg_port = stack.enter_context(relayed(pg.port, args.store_rtt_ms / 2000))
        return _main(args, pg, pg_port)


def _main(args: argparse.Namespace, pg: PostgresServer | None, pg_port: int | None) -> int:
    sizes = [*args.sizes, *([1000] if args.big else [])]
    help_s, luigi_s = startup()
    rows = []
    for n in sizes:
        for workers in args.workers:
            for scheduler in args.schedulers:
                if n >= 100 and workers == 1 and scheduler == "luigid":
                    continue  # as slow as local with one worker, and says nothing new
                print(f"== N={n} workers={workers} {scheduler}", file=sys.stderr, flush=True)
                rows += one(
                    n,
                    workers,
                    scheduler,
                    args.job_seconds,
                    args.sync_each,
                    tuple(args.watcher),
                    args.deps_floor,
                    tuple(args.store),
                    pg,
                    pg_port,
                )
    if args.json:
        print(json.dumps({"rows": rows, "help_s": help_s, "import_luigi_s": luigi_s}, indent=2))
        return 0
    print("| start-up | median | target |")
    print("|---|---|---|")
    print(f"| `luigi-airbyte --help` | {help_s:.3f} s | <= 0.35 s |")
    print(f"| `python -c 'import luigi'` (reference) | {luigi_s:.3f} s | |")
    print()
    print(
        "| N syncs, workers, scheduler, watcher | luigi-airbyte | floor | ratio "
        "| API requests per sync | CPU per sync (floor) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']:,}, {r['workers']}, {r['scheduler']}, {r['watcher']}{_store(r, ', ')} | "
            f"{r['wall_s']:.1f} s | {r['floor_s']:.1f} s | {r['ratio']:.2f}x | "
            f"{r['per_sync']:.1f} | {r['cpu_ms_per_sync']:.1f} ms "
            f"({r['floor_cpu_ms_per_sync']:.1f} ms) |"
        )
    if args.deps_floor:
        print()
        print(_deps_table(rows))
    if args.phases:
        print()
        print(_phase_table(rows))
    print()
    print("Most frequent requests per row: ")
    for r in rows:
        top = ", ".join(f"{k} {v}" for k, v in r["top"])
        print(f"- N={r['n']} w={r['workers']} {r['scheduler']}: {top}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
