"""The job ledger: a lock on each run key, and the durable memory of its Airbyte jobs.

The ledger is a lock, not a memo. Before any ``POST /jobs`` a process *claims* the run
key (``Ledger.claim``), atomically across processes: SQLite's ``BEGIN IMMEDIATE`` and
PostgreSQL's ``INSERT ... ON CONFLICT DO NOTHING`` + ``SELECT ... FOR UPDATE`` make sure
exactly one process holds a run key at a time. The rules:

- A run key with a ``succeeded`` job is **complete**: no claim, no POST, whoever asks.
- A claim held by a live holder means **wait and attach**: the caller polls the store
  until the holder's job appears in the ledger, then attaches to it.
- A claim that is free, or whose holder is **gone**, is taken: its lease expired, or the
  holder ran on this host and its pid is dead (or reused: its start time differs). The
  new holder reconciles first (see below).
- The holder writes its **intent** (``mark_intent``: the time and the newest job id it
  saw) and commits it *before* the request leaves. ``record_job`` clears the intent in
  the same transaction that records the job. So an intent left behind means "a POST may
  have reached Airbyte without its answer being recorded": whoever takes the claim over
  lists the connection's jobs created since the intent and adopts what it finds; only a
  listing that succeeded and shows no job allows a new POST.
- A run key whose last job failed or was cancelled may get a new job (the recovery
  re-run); within one claim the runner never posts twice except under the reconcile
  rule of ``SyncRunner``.
- The holder renews its lease while it waits and releases the claim when it is done.
- A succeeded job whose load turned out bad (its ``lost:``/``duplicates:`` checks
  failed) can be **rejected** (``SqlLedger.reject``): its rows take the status
  ``rejected``, so the run key is no longer complete and nothing counts that job as the
  good load. The run key's next job is then a *refresh* of the affected streams, claimed
  under a run key of its own, ``refresh:<connection>:<rejected job id>``: whichever
  process or re-run asks, that key makes at most one refresh (the rules above), and
  once it succeeded the refresh is recorded under the sync's run key as its good load.

``record_job`` and every claim write are committed before they return. The metadata
store implements this interface (``luigi_airbyte.store.sql_ledger.SqlLedger``);
``InMemoryLedger`` serves tests and one-off CLI syncs.
"""

from __future__ import annotations

import os
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Literal, TypedDict

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store.liveness import hostname, process_gone, process_started

#: How long a claim stays live without a renewal; the holder renews every quarter of it.
DEFAULT_LEASE_S = 60.0

#: Ledger status of a job Airbyte no longer knows (404, or 409 "not currently running").
LOST = "lost"

#: Ledger status of a succeeded job whose load was rejected (see ``Rejection``).
REJECTED = "rejected"


def refresh_run_key(connection_id: str, rejected_job_id: int) -> str:
    """The run key of the one refresh that replaces a rejected job's load."""
    return f"{refresh_run_key_prefix(connection_id)}{int(rejected_job_id)}"


def refresh_run_key_prefix(connection_id: str) -> str:
    """What the run keys of a connection's refreshes start with."""
    return f"refresh:{connection_id}:"


@dataclass(frozen=True)
class Rejection:
    """A succeeded job whose load was rejected: who, why, when, which streams to reload."""

    run_key: str
    connection_id: str
    job_id: int
    rejected_at: datetime
    streams: tuple[str, ...] = ()  # empty: every stream of the connection
    reason: str = ""
    rejected_by: str = ""
    pipeline: str = ""
    step: str = ""
    run_id: str = ""

    @property
    def refresh_key(self) -> str:
        return refresh_run_key(self.connection_id, self.job_id)


@dataclass(frozen=True)
class LedgerEntry:
    """One Airbyte job recorded against a run key (one logical sync of one connection)."""

    run_key: str
    connection_id: str
    job_id: int
    job_type: str = "sync"
    attached: bool = False  # True when we adopted a job we did not create
    status: str = "running"  # last known Airbyte status; "running" until an outcome is written
    finished: bool = False
    rows_committed: int | None = None
    bytes_committed: int | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None  # why the row was settled so (e.g. a lost job's error)


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: a run, a process on a host, and a random token of its own.

    ``pid_started`` (the process start time) tells a live holder from a new process that
    got the same pid after the holder died.
    """

    token: str
    run_id: str
    host: str
    pid: int
    pid_started: float | None

    @classmethod
    def this_process(cls, run_id: str = "") -> Holder:
        pid = os.getpid()
        return cls(
            token=secrets.token_hex(16),
            run_id=run_id,
            host=hostname(),
            pid=pid,
            pid_started=process_started(pid),
        )

    def describe(self) -> str:
        run = f" of run {self.run_id}" if self.run_id else ""
        return f"pid {self.pid} on {self.host}{run}"


def holder_gone(holder: Holder, lease_until: datetime | None, now: datetime) -> str | None:
    """Why the holder of a claim is gone, or ``None`` if it may still be alive."""
    if lease_until is not None and lease_until < now:
        return f"its lease expired at {lease_until.isoformat(timespec='seconds')}"
    return process_gone(holder.host, holder.pid, holder.pid_started)


@dataclass(frozen=True)
class Claim:
    """The claim row of a run key. ``holder`` is ``None`` when nobody holds it."""

    run_key: str
    connection_id: str
    job_type: str
    holder: Holder | None = None
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    intent_at: datetime | None = None  # a POST may have left at or after this time
    intent_seen_max: int | None = None  # the newest job id listed before that POST

    def gone_reason(self, now: datetime) -> str | None:
        """Why this claim's holder is gone (``None``: free, or held by a live holder)."""
        if self.holder is None:
            return None
        return holder_gone(self.holder, self.lease_until, now)


@dataclass(frozen=True)
class ClaimResult:
    """What ``Ledger.claim`` found.

    ``outcome``:
      - ``"complete"``: the run key has a succeeded job (``succeeded``); nothing was claimed;
      - ``"held"``: someone else holds a live claim (``claim``);
      - ``"acquired"``: the caller now holds the claim (``claim``). ``previous`` is the row
        as it was; ``previous_gone`` says why its holder was judged gone, if it had one.
    """

    outcome: Literal["complete", "held", "acquired"]
    claim: Claim | None = None
    succeeded: LedgerEntry | None = None
    previous: Claim | None = None
    previous_gone: str | None = None


class ClaimLostError(StoreError):
    """The caller no longer holds the claim (another process judged it gone)."""


class Outcome(TypedDict):
    """How ``record_outcome`` settles a job's row (the row's fields it sets)."""

    status: str
    finished: bool
    rows_committed: int | None
    bytes_committed: int | None
    finished_at: datetime
    reason: str | None


@dataclass(frozen=True)
class LockedClaim:
    """A run key's claim row, read under the implementation's lock or transaction.

    ``succeeded`` is the run key's last success and ``now`` the time after the lock wait;
    ``write`` stores the row ``decide_claim`` chose, in the same lock or transaction.
    """

    existing: Claim
    succeeded: LedgerEntry | None
    now: datetime
    write: Callable[[Claim], None]


class Ledger(ABC):
    """Durable record of which Airbyte job belongs to which run key, and who may post one.

    Implementations must make every write durable (committed) before returning. The claim
    rule (``decide_claim``) and the outcome's fields are decided here, once; an
    implementation supplies the locked claim row (``_lock_claim``) and the write of an
    outcome (``_settle``).
    """

    @abstractmethod
    def find_open(self, run_key: str) -> LedgerEntry | None:
        """The newest unfinished job for this run key, if any."""

    @abstractmethod
    def last_succeeded(self, run_key: str) -> LedgerEntry | None:
        """The newest job for this run key that finished with status succeeded."""

    @abstractmethod
    def record_job(self, entry: LedgerEntry) -> None:
        """Remember that ``entry.job_id`` belongs to ``entry.run_key`` (idempotent), and
        clear the run key's create intent in the same transaction."""

    def record_outcome(
        self,
        run_key: str,
        job_id: int,
        *,
        status: str,
        rows_committed: int | None,
        bytes_committed: int | None,
        finished_at: datetime,
        reason: str | None = None,
    ) -> None:
        """Mark the job finished with its terminal status and totals; committed on return.

        Calling it again overwrites the outcome (a retried task may). A job that was never
        recorded is ignored: failing here, after the sync finished, would make Luigi retry
        and start another sync.
        """
        outcome: Outcome = {
            "status": status,
            "finished": True,
            "rows_committed": rows_committed,
            "bytes_committed": bytes_committed,
            "finished_at": finished_at,
            "reason": reason,
        }
        self._settle(run_key, job_id, outcome)

    @abstractmethod
    def _settle(self, run_key: str, job_id: int, outcome: Outcome) -> None:
        """Write ``outcome`` into the row of (run key, job id), if there is one."""

    def claim(
        self,
        run_key: str,
        connection_id: str,
        job_type: str,
        holder: Holder,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> ClaimResult:
        """Atomically: complete, held by someone alive, or acquired by ``holder``."""
        with self._lock_claim(run_key, connection_id, job_type) as row:
            result = decide_claim(row.existing, row.succeeded, holder, row.now, lease_s)
            if result.outcome == "acquired" and result.claim is not None:
                row.write(result.claim)
            return result

    @abstractmethod
    def _lock_claim(
        self, run_key: str, connection_id: str, job_type: str
    ) -> AbstractContextManager[LockedClaim]:
        """Lock the run key's claim row (creating it if missing) for one decision."""

    @abstractmethod
    def mark_intent(self, run_key: str, holder: Holder, seen_max: int | None) -> None:
        """Commit "a POST may leave now" (keeps an earlier intent); raises
        ``ClaimLostError`` if ``holder`` no longer holds the claim."""

    @abstractmethod
    def renew(self, run_key: str, holder: Holder, lease_s: float = DEFAULT_LEASE_S) -> bool:
        """Extend the lease; False if ``holder`` no longer holds the claim."""

    @abstractmethod
    def release(self, run_key: str, holder: Holder) -> None:
        """Give the claim up (a no-op if ``holder`` no longer holds it)."""

    @abstractmethod
    def get_claim(self, run_key: str) -> Claim | None:
        """The claim row of the run key, if one was ever taken."""

    @abstractmethod
    def claims_held_by(self, run_id: str) -> list[Claim]:
        """Claims whose holder belongs to this run id (for marking abandoned runs)."""


class InMemoryLedger(Ledger):
    """A thread-safe ledger in process memory (lost on exit)."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._claims: dict[str, Claim] = {}
        self._lock = threading.Lock()

    def find_open(self, run_key: str) -> LedgerEntry | None:
        with self._lock:
            for entry in reversed(self._entries):
                if entry.run_key == run_key and not entry.finished:
                    return entry
        return None

    def last_succeeded(self, run_key: str) -> LedgerEntry | None:
        with self._lock:
            return self._last_succeeded(run_key)

    def last_succeeded_many(self, run_keys: Iterable[str]) -> dict[str, LedgerEntry]:
        wanted = set(run_keys)
        with self._lock:
            return {k: e for k in wanted if (e := self._last_succeeded(k)) is not None}

    def _last_succeeded(self, run_key: str) -> LedgerEntry | None:
        for entry in reversed(self._entries):
            if entry.run_key == run_key and entry.finished and entry.status == "succeeded":
                return entry
        return None

    def record_job(self, entry: LedgerEntry) -> None:
        with self._lock:
            claim = self._claims.get(entry.run_key)
            if claim is not None:
                self._claims[entry.run_key] = replace(claim, intent_at=None, intent_seen_max=None)
            for existing in self._entries:
                if existing.run_key == entry.run_key and existing.job_id == entry.job_id:
                    return
            self._entries.append(entry)

    def _settle(self, run_key: str, job_id: int, outcome: Outcome) -> None:
        with self._lock:
            for i, entry in enumerate(self._entries):
                if entry.run_key == run_key and entry.job_id == job_id:
                    self._entries[i] = replace(entry, **outcome)

    @contextmanager
    def _lock_claim(self, run_key: str, connection_id: str, job_type: str) -> Iterator[LockedClaim]:
        now = datetime.now(timezone.utc)
        with self._lock:
            existing = self._claims.get(run_key) or Claim(run_key, connection_id, job_type)

            def write(claim: Claim) -> None:
                self._claims[run_key] = claim

            yield LockedClaim(existing, self._last_succeeded(run_key), now, write)

    def mark_intent(self, run_key: str, holder: Holder, seen_max: int | None) -> None:
        with self._lock:
            claim = self._held(run_key, holder)
            if claim.intent_at is None:
                now = datetime.now(timezone.utc)
                self._claims[run_key] = replace(claim, intent_at=now, intent_seen_max=seen_max)

    def renew(self, run_key: str, holder: Holder, lease_s: float = DEFAULT_LEASE_S) -> bool:
        with self._lock:
            try:
                claim = self._held(run_key, holder)
            except ClaimLostError:
                return False
            until = datetime.now(timezone.utc) + timedelta(seconds=lease_s)
            self._claims[run_key] = replace(claim, lease_until=until)
            return True

    def release(self, run_key: str, holder: Holder) -> None:
        with self._lock:
            claim = self._claims.get(run_key)
            if (
                claim is not None
                and claim.holder is not None
                and claim.holder.token == holder.token
            ):
                self._claims[run_key] = replace(claim, holder=None, lease_until=None)

    def get_claim(self, run_key: str) -> Claim | None:
        with self._lock:
            return self._claims.get(run_key)

    def claims_held_by(self, run_id: str) -> list[Claim]:
        with self._lock:
            return [
                c
                for c in self._claims.values()
                if c.holder is not None and c.holder.run_id == run_id
            ]

    def _held(self, run_key: str, holder: Holder) -> Claim:
        claim = self._claims.get(run_key)
        if claim is None or claim.holder is None or claim.holder.token != holder.token:
            raise ClaimLostError(f"run key {run_key!r}: this process no longer holds the claim")
        return claim

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._entries)


def decide_claim(
    existing: Claim,
    succeeded: LedgerEntry | None,
    holder: Holder,
    now: datetime,
    lease_s: float,
) -> ClaimResult:
    """The claim rule, shared by every ledger: what ``claim`` answers and the row it writes.

    Runs inside the implementation's lock or transaction.
    """
    if succeeded is not None:
        return ClaimResult("complete", claim=existing, succeeded=succeeded)
    current = existing.holder
    gone: str | None = None
    if current is not None and current.token != holder.token:
        gone = existing.gone_reason(now)
        if gone is None:
            return ClaimResult("held", claim=existing)
    mine = current is not None and current.token == holder.token
    claimed = replace(
        existing,
        holder=holder,
        claimed_at=existing.claimed_at if mine else now,
        lease_until=now + timedelta(seconds=lease_s),
    )
    return ClaimResult("acquired", claim=claimed, previous=existing, previous_gone=gone)
