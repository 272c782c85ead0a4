"""A separate process that writes to the store, for the concurrency and crash tests.

    python store_worker.py <url> write <worker> <iterations> <run_id> <barrier_dir> <parties>
    python store_worker.py <url> open <barrier_dir> <parties>
    python store_worker.py <url> record-then-kill <run_key> <job_id>

Workers meet at a file barrier (each drops a file, then waits for ``parties`` files) so
they hit the database at the same moment however slowly the machine starts them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from luigi_airbyte.store import LedgerEntry, Store


def barrier(directory: str, parties: int, timeout_s: float = 60.0) -> None:
    """Wait until ``parties`` processes have reached this point."""
    folder = Path(directory)
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + timeout_s
    while len(list(folder.glob("ready-*"))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(folder.glob('ready-*')))} of {parties} arrived")
        time.sleep(0.005)


def write(url: str, worker: int, iterations: int, run_id: str, folder: str, parties: int) -> None:
    barrier(folder, parties)
    store = Store(url).open()  # concurrent open: migrations race here on a fresh database
    store.start_run("concurrency", run_id=run_id)  # every worker upserts the same run
    ledger = store.ledger
    for i in range(iterations):
        # Same (run_key, job_id) from every worker: must dedupe, never fail.
        ledger.record_job(LedgerEntry(run_key=f"key-{i}", connection_id="conn", job_id=i))
        store.upsert_step(run_id, f"w{worker}-s{i}", kind="sync", status="running", job_id=i)
        store.upsert_step(run_id, f"w{worker}-s{i}", status="succeeded", rows=i)
        ledger.record_outcome(
            f"key-{i}",
            i,
            status="succeeded",
            rows_committed=i,
            bytes_committed=i * 10,
            finished_at=datetime.now(timezone.utc),
        )
        store.add_event(run_id, "step.succeeded", fields={"worker": worker, "i": i})
    store.close()


def open_only(url: str, folder: str, parties: int) -> None:
    barrier(folder, parties)
    store = Store(url).open()
    print(store.schema_version())
    store.close()


def record_then_kill(url: str, run_key: str, job_id: int) -> None:
    store = Store(url).open()
    store.ledger.record_job(LedgerEntry(run_key=run_key, connection_id="conn", job_id=job_id))
    # No close, no flush, no atexit: the row must already be durable.
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    url, mode, *rest = argv
    if mode == "write":
        write(url, int(rest[0]), int(rest[1]), rest[2], rest[3], int(rest[4]))
    elif mode == "open":
        open_only(url, rest[0], int(rest[1]))
    elif mode == "record-then-kill":
        record_then_kill(url, rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
