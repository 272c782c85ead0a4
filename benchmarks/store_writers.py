"""Store writers: many processes writing one SQLite store at once, as a run's sync
processes do when a wave of syncs starts or ends together (issue 10, N = 10).

Each of ``--procs`` processes (forked, as Luigi's workers are) makes ``--writes`` write
transactions of the kinds a sync makes: a step's change with its event
(``upsert_step``, not durable) and a ledger row (``record_job``, durable), with
``--work-ms`` of CPU between two of them. The same load runs twice in one invocation:
with the store's own wait for the write lock (``store/engine.py::_begin_immediate``, up to
2 ms between tries) and with SQLite's busy handler (sleeps of 1, 2, 5, ... 100 ms), the
baseline. Prints wall time, the median and 95th-percentile wait for the lock, and the
longest.

Usage: python benchmarks/store_writers.py [--procs 8] [--writes 12] [--work-ms 3]
       [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from luigi_airbyte.store import Store
from luigi_airbyte.store import engine as store_engine
from luigi_airbyte.store.ledger import LedgerEntry

_FORK = multiprocessing.get_context("fork")


def _sqlite_busy_handler(conn: sa.Connection, _busy_timeout_ms: int) -> None:
    """The baseline: ``BEGIN IMMEDIATE`` waits in SQLite's busy handler."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _spin(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def _writer(url: str, run_id: str, me: int, writes: int, work_ms: float, out: Any) -> None:
    store = Store(url)
    waits = []
    original = Store.begin

    def timed_begin(self: Store, action: str, **kw: Any) -> Any:
        t0 = time.perf_counter()
        cm = original(self, action, **kw)
        conn = cm.__enter__()
        waits.append(time.perf_counter() - t0)
        return _Entered(cm, conn)

    Store.begin = timed_begin  # type: ignore[method-assign,assignment]
    for i in range(writes):
        _spin(work_ms)
        if i % 3 == 2:
            entry = LedgerEntry(run_key=f"k{me}-{i}", connection_id=f"c{me}", job_id=me * 1000 + i)
            store.ledger.record_job(entry)
        else:
            event = {"name": "step.started", "fields": {"i": i}}
            store.upsert_step(run_id, f"s{me}", kind="sync", status="running", events_=[event])
    out.send(waits)
    store.close()


class _Entered:
    def __init__(self, cm: Any, conn: Any) -> None:
        self.cm, self.conn = cm, conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: Any) -> Any:
        return self.cm.__exit__(*exc)


def measure(
    procs: int, writes: int, work_ms: float, begin: Callable[..., None]
) -> dict[str, float]:
    store_engine._begin_immediate = begin  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="bench-writers-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'm.db'}"
        with Store(url) as store:
            run_id = store.start_run("bench")
        pipes, workers = [], []
        t0 = time.perf_counter()
        for me in range(procs):
            parent, child = _FORK.Pipe(duplex=False)
            p = _FORK.Process(target=_writer, args=(url, run_id, me, writes, work_ms, child))
            p.start()
            pipes.append(parent)
            workers.append(p)
        waits = [w for pipe in pipes for w in pipe.recv()]
        for p in workers:
            p.join()
        wall = time.perf_counter() - t0
    waits.sort()
    return {
        "wall": wall,
        "p50": statistics.median(waits),
        "p95": waits[int(len(waits) * 0.95) - 1],
        "max": waits[-1],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--writes", type=int, default=12)
    ap.add_argument("--work-ms", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ours = store_engine._begin_immediate
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"{args.procs} processes x {args.writes} write transactions, {args.work_ms} ms CPU")
    print(f"between two; median of {args.repeat} runs each; load {load} at start\n")
    print("| lock wait | wall | wait p50 | wait p95 | wait max |")
    print("|---|---|---|---|---|")
    for label, begin in (
        ("ours (<= 2 ms steps)", ours),
        ("SQLite busy handler", _sqlite_busy_handler),
    ):
        runs = [measure(args.procs, args.writes, args.work_ms, begin) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"| {label} | {med['wall']:.3f} s | {med['p50'] * 1000:.1f} ms "
            f"| {med['p95'] * 1000:.1f} ms | {med['max'] * 1000:.1f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
