"""Several processes writing at once, and a process killed right after a ledger write."""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from luigi_airbyte.store import Store

WORKER = Path(__file__).with_name("store_worker.py")
WORKERS = 3
ITERATIONS = 15


def test_processes_write_ledger_and_steps_at_once(store_url: str, tmp_path: Path) -> None:
    """Three processes open an empty store (racing migrations), then each records the same
    15 ledger jobs plus its own steps and events at the same moment: no error, no lost or
    duplicated row."""
    run_id = str(uuid.uuid4())
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                store_url,
                "write",
                str(worker),
                str(ITERATIONS),
                run_id,
                str(tmp_path),
                str(WORKERS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WORKERS)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err

    with Store(store_url) as store:
        entries = store.ledger.entries()
        assert sorted((e.run_key, e.job_id) for e in entries) == sorted(
            (f"key-{i}", i) for i in range(ITERATIONS)
        )
        assert all(e.finished and e.status == "succeeded" for e in entries)
        detail = store.get_run(run_id)
        assert len(detail.steps) == WORKERS * ITERATIONS
        assert {s.status for s in detail.steps} == {"succeeded"}
        assert sorted((s.step_name, s.rows) for s in detail.steps) == sorted(
            (f"w{w}-s{i}", i) for w in range(WORKERS) for i in range(ITERATIONS)
        )
        events = store.events(run_id)
        assert len(events) == WORKERS * ITERATIONS
        assert len({(e.fields["worker"], e.fields["i"]) for e in events}) == WORKERS * ITERATIONS


def test_ledger_row_survives_sigkill_right_after_record_job(store_url: str) -> None:
    """reliability-notes §7.4: the job id is durable before the runner starts waiting."""
    Store(store_url).open().close()
    proc = subprocess.run(
        [sys.executable, str(WORKER), store_url, "record-then-kill", "nightly:crm", "4242"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Store(store_url) as store:
        found = store.ledger.find_open("nightly:crm")
    assert found is not None and found.job_id == 4242 and not found.finished


def _open_fresh(url: str, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        Store(url).open().close()
    except Exception as exc:
        errors.put(repr(exc))


def test_many_processes_open_a_fresh_sqlite_store_at_once(tmp_path: Path) -> None:
    """Six processes open the same new SQLite file at the same instant, forty times over:
    switching a fresh file to WAL makes SQLite answer "database is locked" without waiting,
    which once failed a run whose twin started beside it. None may fail."""
    ctx = mp.get_context("fork")
    failures: list[str] = []
    for trial in range(40):
        url = f"sqlite:///{tmp_path / f'fresh-{trial}.db'}"
        barrier, errors = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open_fresh, args=(url, barrier, errors)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert all(p.exitcode == 0 for p in procs)
        while not errors.empty():
            failures.append(errors.get())
    assert failures == []
