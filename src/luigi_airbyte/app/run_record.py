"""A run's record while it is open: who holds it, its heartbeat, and closing runs whose
holder is gone.

The process holding a run renews its heartbeat (``runs.heartbeat_at``, with host, pid and
the pid's start time) every few seconds from a daemon thread. Whoever reads runs first
closes every run whose holder is gone, as ``abandoned`` with when and why, and its
``running`` steps too: the holder ran on this host and its pid is dead, or now belongs to
another process; or its heartbeat is older than the lease (another host, or a frozen
process).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from luigi_airbyte.errors import LuigiAirbyteError, StoreError
from luigi_airbyte.store import RunSummary, Store, utcnow
from luigi_airbyte.store.liveness import hostname, process_gone, process_started

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
"""How often a run renews its heartbeat."""

LEASE_S = 60.0
"""A run whose heartbeat is older than this is abandoned, wherever its holder ran."""

# --- who holds a run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """A process that holds a run: host, pid and the pid's start time (epoch seconds)."""

    host: str
    pid: int
    started_at: float | None


def this_process() -> Holder:
    pid = os.getpid()
    return Holder(hostname(), pid, process_started(pid))


def holder_gone(run: RunSummary, *, now: datetime, lease_s: float = LEASE_S) -> str | None:
    """Why the process holding ``run`` is gone, or None while it may still be alive."""
    gone = process_gone(run.host, run.pid, run.pid_started_at)
    if gone is not None:
        return gone
    last = run.heartbeat_at or run.started_at
    age = (now - last).total_seconds()
    if age > lease_s:
        return f"no heartbeat for {age:.0f}s (lease {lease_s:.0f}s) from {run.host or '?'}"
    return None


Settle = Callable[[str], object]
"""Settles one run key's claim against Airbyte (``SyncRunner.settle``); posts nothing."""


def settle_claims_of(store: Store, run_id: str, settle: Settle | None = None) -> int:
    """Settle the ledger claims that an abandoned run held; returns how many were settled.

    With ``settle`` (``run`` passes ``SyncRunner.settle``), each claim is taken over,
    its job's outcome recorded (or ``lost``, or the job a lost create made adopted) and
    released, so the ledger agrees with Airbyte at once. Without it (``history`` and
    ``show`` have no Airbyte credential), nothing is contacted: the claim's holder is
    gone, so the next ``trigger_or_attach`` on the run key takes it over and reconciles
    before it could post. A claim that cannot be settled now is left for that takeover.
    """
    claims = store.ledger.claims_held_by(run_id)
    if settle is None:
        return 0
    settled = 0
    for claim in claims:
        try:
            settle(claim.run_key)
        except LuigiAirbyteError as exc:
            logger.warning(
                "run %s: claim on %s left for the next run to reconcile (%s)",
                run_id,
                claim.run_key,
                exc,
            )
            continue
        settled += 1
    return settled


def reap_abandoned(
    store: Store,
    *,
    lease_s: float = LEASE_S,
    now: datetime | None = None,
    settle: Settle | None = None,
) -> list[str]:
    """Close every ``running`` run whose holder is gone, and steps left ``running`` in
    runs that ended; settle the claims they held (see ``settle_claims_of``). Returns the
    ids of the runs closed now."""
    when = now or utcnow()
    closed: list[str] = []
    for run in store.running_runs():
        why = holder_gone(run, now=when, lease_s=lease_s)
        if why is None:
            continue
        text = f"abandoned at {when:%Y-%m-%d %H:%M:%S} UTC: {why}"
        if store.abandon_run(run.run_id, text, at=when):
            settle_claims_of(store, run.run_id, settle)
            closed.append(run.run_id)
            logger.info("run %s: %s", run.run_id, text)
    for run_id in store.runs_with_running_steps():
        store.abandon_running_steps(
            run_id, "abandoned: the run ended while this step was still running", at=when
        )
    return closed


# --- one open run: record, heartbeat, close ----------------------------------------------


class RunHandle:
    """An open run record kept alive by a heartbeat thread until ``finish``."""

    def __init__(self, store: Store, run_id: str, *, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.store = store
        self.run_id = run_id
        self.heartbeat_s = heartbeat_s
        self.lost: str | None = None  # why the store's file was replaced under the run
        self.finished = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def start_heartbeat(self) -> RunHandle:
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if os.getpid() != self._pid:  # pragma: no cover - a forked copy never beats
                return
            try:
                self.store.check_identity()
            except StoreError as exc:  # the file is gone for good: said once, at the end
                if self.lost is None:
                    self.lost = str(exc)
                    logger.info("run %s: %s", self.run_id, exc)
                continue
            try:
                self.store.heartbeat(self.run_id)
            except StoreError as exc:  # an outage may pass; the run's own writes decide
                logger.info("run %s: heartbeat not renewed: %s", self.run_id, exc)
            except Exception as exc:  # noqa: BLE001 - the heartbeat thread must not die
                logger.debug("heartbeat of run %s failed: %s", self.run_id, exc)

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.heartbeat_s + 1)

    def check(self) -> None:
        """Raise ``StoreError`` if the store failed under the run (seen by the heartbeat)
        or its file is no longer the one opened."""
        if self.lost is not None:
            raise StoreError(self.lost)
        self.store.check_identity()

    def finish(self, status: str, exit_code: int, message: str | None = None) -> int:
        """Close the run: steps still ``running`` become ``abandoned``, then the run.
        Returns how many steps it abandoned."""
        self.stop_heartbeat()
        if status == "succeeded":
            self.check()  # never write success into a store that failed under the run
        abandoned = self.store.abandon_running_steps(
            self.run_id, "abandoned: the run ended while this step was still running"
        )
        self.store.finish_run(self.run_id, status, exit_code, message=message)
        self.finished = True
        self.store.unpin()
        return abandoned


def open_run(
    store: Store,
    pipeline: str,
    run_date: date | None,
    *,
    argv: Sequence[str] | str | None = None,
    scheduler: str | None = None,
    identity: str | None = None,
    heartbeat_s: float = HEARTBEAT_S,
    run_id: str | None = None,
) -> RunHandle:
    """Record a new ``running`` run held by this process and start its heartbeat; with
    ``run_id``, mark that finished run ``running`` again, held by this process."""
    me = this_process()
    run_id = store.start_run(
        pipeline,
        run_date,
        run_id=run_id,
        argv=argv,
        scheduler=scheduler,
        identity=identity,
        host=me.host,
        pid=me.pid,
        pid_started_at=me.started_at,
    )
    store.pin()
    return RunHandle(store, run_id, heartbeat_s=heartbeat_s).start_heartbeat()
