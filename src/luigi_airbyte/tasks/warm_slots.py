"""Warm task processes for syncs: a few long-lived processes instead of a fork per task.

With ``workers > 1`` Luigi forks a new process for every task. For a sync that fork is
a large part of its CPU: the child copies the pages of a large parent as it touches them,
opens its own store connection, compiles every SQL statement again and opens new HTTP
connections (``benchmarks/scale.py``, the run's whole process tree: 72 ms of CPU a sync
with a fork each, 34-40 ms with slots). A *slot* is one process forked once per worker
process; it runs sync after sync and keeps its runtime warm.

A slot behaves like the process Luigi would have forked, as Luigi's worker sees it:
- the task runs through Luigi's own ``TaskProcess.run`` (dependency check, events,
  status reporter, the result tuple), rebuilt in the slot from its parameters;
- its result comes back on the slot's pipe and is put on the worker's result queue by a
  reader thread, so the worker wakes as soon as the task ends;
- if the slot dies while it runs a task (killed, crashed), the task's ``exitcode`` is the
  slot's, and Luigi's worker reports the task failed and counts a lost attempt, exactly
  as for a forked task process; the next attempt attaches to the Airbyte job
  (``sync_task``). A dead slot is replaced by a new fork when a task needs one;
- ``terminate()`` sends SIGTERM to the slot, as Luigi does to a task process.

Only syncs and the pipeline's root run in slots (a task says so with ``warm_process``;
its ``process_scope()``, if any, is entered around its run): checks and transforms keep a
fresh process each (they load data, run dbt or Spark, and may change process state).
``LUIGI_AIRBYTE_WARM_SYNCS=off`` forks per task as before.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import random
import signal
import threading
from dataclasses import dataclass
from typing import Any

import luigi
import luigi.worker
from luigi.task_register import load_task

from luigi_airbyte.app.switches import switched_on

logger = logging.getLogger(__name__)

# A task's date parameter parses with strptime, whose first call imports _strptime: once
# here, before the slots fork, not in each slot during its first sync.
importlib.import_module("_strptime")

ENV = "LUIGI_AIRBYTE_WARM_SYNCS"
_STOP_WAIT_S = 5.0
_FORK = multiprocessing.get_context("fork")  # a slot inherits the worker's state, as Luigi's


def enabled() -> bool:
    """Whether syncs run in warm slots (``LUIGI_AIRBYTE_WARM_SYNCS``, default on)."""
    return switched_on(ENV)


@dataclass(frozen=True)
class _Order:
    """What a slot needs to rebuild and run one task (strings only: no live objects)."""

    module: str
    family: str
    params: dict[str, str]
    lost_attempts: int  # the worker's count for this task (``sync_task``)


class _PipeResults:
    """The result queue a task sees inside a slot: its result goes back on the slot's
    pipe at once (a multiprocessing queue would send it from a feeder thread later)."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn

    def put(self, item: Any) -> None:
        self._conn.send(item)


class Slot:
    """One warm process and the task it runs (parent side)."""

    def __init__(self, pool: WarmPool) -> None:
        self.conn, child = _FORK.Pipe()
        self.running: WarmTask | None = None
        self.lost = False  # its pipe closed: the process is gone or going
        with luigi.worker.fork_lock:
            self.process = _FORK.Process(
                target=_serve,
                args=(pool.worker, child, [self.conn, *pool.parent_ends()]),
                name="luigi-airbyte-slot",
                daemon=True,  # never outlives the run process's normal exit
            )
            self.process.start()
        child.close()

    @property
    def usable(self) -> bool:
        return self.running is None and not self.lost and self.process.is_alive()


class WarmTask:
    """What Luigi's worker holds for a task running in a slot: the face of a
    ``TaskProcess`` it uses (``start``, ``is_alive``, ``exitcode``, ``terminate``)."""

    use_multiprocessing = True  # Luigi starts it rather than running it in-line
    timeout_time = None

    def __init__(self, slot: Slot, proc: luigi.worker.TaskProcess) -> None:
        self.slot = slot
        self.task = proc.task
        self.worker_timeout = proc.worker_timeout
        self.status_reporter = proc.status_reporter
        self.done = False

    def start(self) -> None:
        task = self.task
        order = _Order(
            module=task.task_module,
            family=task.task_family,
            params=task.to_str_params(),
            lost_attempts=int(getattr(task, "lost_attempts", 0)),
        )
        try:
            self.slot.conn.send(order)
        except OSError:  # the slot died since it was chosen: Luigi sees a lost attempt
            self.slot.lost = True

    def is_alive(self) -> bool:
        """Running until the reader thread took its result, or read to the end of the
        slot's pipe without one (it reads a result sent just before a death first)."""
        return not self.done and not self.slot.lost

    @property
    def exitcode(self) -> int | None:
        if self.done:
            return 0
        if not self.slot.lost:
            return None
        self.slot.process.join(timeout=1.0)
        code = self.slot.process.exitcode
        return code if code else 1  # gone without a result: a failure, whatever its code

    def terminate(self) -> None:
        if self.slot.process.is_alive():
            self.slot.process.terminate()


class WarmPool:
    """The worker's slots, and the thread that hands their results to the worker."""

    def __init__(self, worker: luigi.worker.Worker, results: Any) -> None:
        self.worker = worker
        self._results = results
        self._slots: list[Slot] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = _FORK.Pipe(duplex=False)
        self._closed = False
        self._reader: threading.Thread | None = None

    def task_process(self, proc: luigi.worker.TaskProcess) -> WarmTask:
        """A slot's face for the task of ``proc`` (built by Luigi, never started)."""
        with self._lock:
            # A slot stays until the reader has read its pipe to the end: a dead slot's
            # task is running (for Luigi) until then, and only the reader ends that.
            self._slots = [s for s in self._slots if not s.lost]
            slot = next((s for s in self._slots if s.usable), None)
            if slot is None:
                slot = Slot(self)
                self._slots.append(slot)
            warm = WarmTask(slot, proc)
            slot.running = warm
            self._ensure_reader()
        self._wake_w.send(None)  # the reader waits on the new slot's pipe too
        return warm

    def close(self) -> None:
        """Stop every slot (each finishes nothing new) and the reader thread."""
        with self._lock:
            self._closed = True
            slots = list(self._slots)
        for slot in slots:
            try:
                slot.conn.send(None)
            except OSError:
                pass
        for slot in slots:
            slot.process.join(timeout=_STOP_WAIT_S)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(timeout=_STOP_WAIT_S)
        self._wake_w.send(None)
        if self._reader is not None:
            self._reader.join(timeout=_STOP_WAIT_S)
        for slot in slots:
            slot.conn.close()

    def parent_ends(self) -> list[multiprocessing.connection.Connection]:
        """The worker's ends of every pipe (a new slot closes its copies, so each slot
        sees its pipe close when the run process is gone)."""
        return [s.conn for s in self._slots] + [self._wake_r, self._wake_w]

    def _ensure_reader(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="warm-slots", daemon=True)
            self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                if self._read_once():
                    return
            except Exception:  # a result not handed over would hang the worker
                logger.exception("warm slots: reading a result failed")

    def _read_once(self) -> bool:
        """Hand over the results that arrived; True once the pool is closed and empty."""
        with self._lock:
            if self._closed and all(s.lost or not s.process.is_alive() for s in self._slots):
                return True
            slots = {s.conn: s for s in self._slots if not s.lost}
        for conn in multiprocessing.connection.wait([self._wake_r, *slots], timeout=1.0):
            if conn is self._wake_r:
                self._wake_r.recv()
                continue
            slot = slots[conn]  # type: ignore[index]
            try:
                item = slot.conn.recv()
            except (EOFError, OSError):
                slot.lost = True  # Luigi's worker sees the task's exitcode
                continue
            self._deliver(slot, item)
        return False

    def _deliver(self, slot: Slot, item: Any) -> None:
        warm = slot.running
        if warm is not None:
            warm.done = True  # before the result: Luigi never sees a finished task "died"
            slot.running = None
        try:
            self._results.put(item)
        except (ValueError, OSError):  # Luigi's worker closed its queue: the run is ending
            logger.debug("warm slots: a result after the worker stopped: %s", item[:2])


def _serve(
    worker: luigi.worker.Worker,
    conn: multiprocessing.connection.Connection,
    parent_ends: list[multiprocessing.connection.Connection],
) -> None:
    """A slot's life: run each order through Luigi's ``TaskProcess.run`` until told to
    stop, or until the worker's end of the pipe closes (the run process is gone)."""
    for end in parent_ends:
        end.close()
    random.seed()  # as Luigi reseeds each task process: slots forked alike differ
    inherited = signal.getsignal(signal.SIGINT)
    results = _PipeResults(conn)
    while True:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # idle: Ctrl-C is the run's to handle
        try:
            order = conn.recv()
        except (EOFError, OSError):
            return
        if order is None:
            return
        signal.signal(signal.SIGINT, inherited)  # running: as in a forked task process
        task = load_task(order.module, order.family, order.params)
        if hasattr(task, "lost_attempts"):
            task.lost_attempts = order.lost_attempts
        proc = luigi.worker.Worker._create_task_process(worker, task)
        proc.use_multiprocessing = False  # run here, in this process
        proc.result_queue = results
        scope = getattr(task, "process_scope", contextlib.nullcontext)
        try:
            with scope():  # e.g. the pipeline's root: one scheduling pass (``tasks/steps``)
                proc.run()  # sends the result, even on Ctrl-C (Luigi's ``finally``)
        except (BrokenPipeError, EOFError):  # the run process is gone: nobody to tell
            return
        except KeyboardInterrupt:  # Ctrl-C reached the whole process group: the run ends
            return


__all__ = ["ENV", "Slot", "WarmPool", "WarmTask", "enabled"]
