"""The job ledger in the metadata store (tables ``airbyte_jobs`` and ``sync_claims``).

``record_job`` is an ``INSERT ... ON CONFLICT (run_key, job_id) DO NOTHING`` committed
before it returns: two workers that adopt the same job both succeed, one row results, and
the row is on disk before the runner starts waiting. The same transaction clears the run
key's create intent.

``claim`` is the lock (rules in ``ledger.py``). One transaction: insert the run key's
claim row if missing (``ON CONFLICT DO NOTHING``), read it (PostgreSQL: ``SELECT ... FOR
UPDATE``, so a second claimant waits for the first to commit; SQLite: the transaction
began with ``BEGIN IMMEDIATE`` and holds the write lock), read the run key's last success,
decide, and write the new holder. Whoever commits first wins; the next one sees its row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from luigi_airbyte.store._rows import record_from_row
from luigi_airbyte.store._upsert import dialect_insert
from luigi_airbyte.store.ledger import (
    DEFAULT_LEASE_S,
    REJECTED,
    Claim,
    ClaimLostError,
    Holder,
    Ledger,
    LedgerEntry,
    LockedClaim,
    Outcome,
    Rejection,
)
from luigi_airbyte.store.schema import (
    airbyte_jobs,
    ensure_utc,
    rejected_jobs,
    steps,
    sync_claims,
    utcnow,
)

if TYPE_CHECKING:
    from luigi_airbyte.store.database import Store

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # run keys per IN (...) list: under SQLite's 999 bound parameters

_COLUMNS = (
    airbyte_jobs.c.run_key,
    airbyte_jobs.c.connection_id,
    airbyte_jobs.c.job_id,
    airbyte_jobs.c.job_type,
    airbyte_jobs.c.attached,
    airbyte_jobs.c.status,
    airbyte_jobs.c.finished,
    airbyte_jobs.c.rows_committed,
    airbyte_jobs.c.bytes_committed,
    airbyte_jobs.c.created_at,
    airbyte_jobs.c.finished_at,
    airbyte_jobs.c.reason,
)


def _entry(row: sa.RowMapping) -> LedgerEntry:
    return record_from_row(
        LedgerEntry,
        row,
        job_id=int(row["job_id"]),
        attached=bool(row["attached"]),
        finished=bool(row["finished"]),
    )


def _rejected_note(r: Rejection) -> str:
    who = f" by {r.rejected_by}" if r.rejected_by else ""
    when = r.rejected_at.isoformat(timespec="seconds")
    return f"{when}{who}: {r.reason}"[:600] + f"; reloaded under {r.refresh_key}"


def _rejection(row: sa.RowMapping) -> Rejection:
    streams = row["streams"] if isinstance(row["streams"], list) else []
    return Rejection(
        run_key=row["run_key"],
        connection_id=row["connection_id"],
        job_id=int(row["job_id"]),
        rejected_at=row["rejected_at"],
        streams=tuple(str(s) for s in streams),
        reason=row["reason"] or "",
        rejected_by=row["rejected_by"] or "",
        pipeline=row["pipeline"] or "",
        step=row["step_name"] or "",
        run_id=row["run_id"] or "",
    )


def _claim(row: sa.RowMapping) -> Claim:
    holder = None
    if row["holder_token"] is not None:
        holder = Holder(
            token=row["holder_token"],
            run_id=row["holder_run_id"] or "",
            host=row["holder_host"] or "",
            pid=int(row["holder_pid"] or 0),
            pid_started=row["holder_started"],
        )
    seen = row["intent_seen_max"]
    return Claim(
        run_key=row["run_key"],
        connection_id=row["connection_id"],
        job_type=row["job_type"],
        holder=holder,
        claimed_at=row["claimed_at"],
        lease_until=row["lease_until"],
        intent_at=row["intent_at"],
        intent_seen_max=None if seen is None else int(seen),
    )


def _holder_values(holder: Holder | None) -> dict[str, Any]:
    return {
        "holder_token": None if holder is None else holder.token,
        "holder_run_id": None if holder is None else (holder.run_id or None),
        "holder_host": None if holder is None else holder.host,
        "holder_pid": None if holder is None else holder.pid,
        "holder_started": None if holder is None else holder.pid_started,
    }


def _insert_new(
    conn: sa.Connection, table: sa.Table, values: dict[str, Any], keys: list[sa.Column[Any]]
) -> None:
    """Insert the row unless one with the same ``keys`` exists (``ON CONFLICT DO NOTHING``)."""
    conn.execute(
        dialect_insert(conn, table).values(values).on_conflict_do_nothing(index_elements=keys)
    )


class SqlLedger(Ledger):
    """``Ledger`` implementation on a ``Store`` (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def find_open(self, run_key: str) -> LedgerEntry | None:
        """The newest unfinished job for this run key, if any."""
        query = (
            sa.select(*_COLUMNS)
            .where(airbyte_jobs.c.run_key == run_key, airbyte_jobs.c.finished.is_(False))
            .order_by(airbyte_jobs.c.id.desc())
            .limit(1)
        )
        with self._store.query(f"look up the open job of run key {run_key!r}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _entry(row)

    def last_succeeded(self, run_key: str) -> LedgerEntry | None:
        """The newest job for this run key that finished with status succeeded."""
        with self._store.query(f"look up the last success of run key {run_key!r}") as conn:
            return self._last_succeeded(conn, run_key)

    def last_succeeded_many(self, run_keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """``last_succeeded`` of many run keys in one read: run key -> its newest
        succeeded job (keys without one are left out). A scheduling pass over N syncs
        asks once instead of N times."""
        wanted = sorted(set(run_keys))
        found: dict[str, LedgerEntry] = {}
        if not wanted:
            return found
        # One chunk is one statement: no transaction around it (`Store.query`).
        reader = self._store.query if len(wanted) <= _IN_CHUNK else self._store.read
        with reader(f"look up the last success of {len(wanted)} run keys") as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = (
                    sa.select(*_COLUMNS)
                    .where(
                        airbyte_jobs.c.run_key.in_(chunk),
                        airbyte_jobs.c.finished.is_(True),
                        airbyte_jobs.c.status == "succeeded",
                    )
                    .order_by(airbyte_jobs.c.id.asc())
                )
                for row in conn.execute(query).mappings():
                    found[row["run_key"]] = _entry(row)  # ascending ids: the newest wins
        return found

    @staticmethod
    def _last_succeeded(conn: sa.Connection, run_key: str) -> LedgerEntry | None:
        query = (
            sa.select(*_COLUMNS)
            .where(
                airbyte_jobs.c.run_key == run_key,
                airbyte_jobs.c.finished.is_(True),
                airbyte_jobs.c.status == "succeeded",
            )
            .order_by(airbyte_jobs.c.id.desc())
            .limit(1)
        )
        row = conn.execute(query).mappings().first()
        return None if row is None else _entry(row)

    def record_job(self, entry: LedgerEntry) -> None:
        """Remember that ``entry.job_id`` belongs to ``entry.run_key``; committed on return.

        Idempotent: recording the same (run key, job id) again, even from another process
        at the same moment, keeps the first row and raises nothing.
        """
        values = {
            "run_key": entry.run_key,
            "connection_id": entry.connection_id,
            "job_id": entry.job_id,
            "job_type": entry.job_type,
            "attached": entry.attached,
            "status": entry.status,
            "finished": entry.finished,
            "rows_committed": entry.rows_committed,
            "bytes_committed": entry.bytes_committed,
            "created_at": None
            if entry.created_at is None
            else ensure_utc(entry.created_at, "created_at"),
            "finished_at": None
            if entry.finished_at is None
            else ensure_utc(entry.finished_at, "finished_at"),
            "recorded_at": utcnow(),
        }
        action = f"record job {entry.job_id} for run key {entry.run_key!r}"
        with self._store.begin(action) as conn:
            _insert_new(conn, airbyte_jobs, values, [airbyte_jobs.c.run_key, airbyte_jobs.c.job_id])
            # The job is known now: no POST of this run key is left unaccounted for.
            conn.execute(
                sync_claims.update()
                .where(sync_claims.c.run_key == entry.run_key)
                .values(intent_at=None, intent_seen_max=None, updated_at=utcnow())
            )

    def _settle(self, run_key: str, job_id: int, outcome: Outcome) -> None:
        """One UPDATE; a job that was never recorded is logged and ignored, like
        ``InMemoryLedger`` does."""
        values = {
            **outcome,
            "finished_at": ensure_utc(outcome["finished_at"], "finished_at"),
            "reason": None if outcome["reason"] is None else outcome["reason"][:2000],
        }
        action = f"record the outcome of job {job_id} for run key {run_key!r}"
        with self._store.write(action) as conn:
            result = conn.execute(
                airbyte_jobs.update()
                .where(airbyte_jobs.c.run_key == run_key, airbyte_jobs.c.job_id == job_id)
                .values(**values)
            )
        if result.rowcount == 0:
            log.warning(
                "ledger: outcome %s of job %s for run key %r ignored: the job was never recorded",
                outcome["status"],
                job_id,
                run_key,
            )

    # --- the claim (see ledger.py) -------------------------------------------------------

    @contextmanager
    def _lock_claim(self, run_key: str, connection_id: str, job_type: str) -> Iterator[LockedClaim]:
        """One transaction: insert the claim row if missing, lock it, and write the decision."""
        with self._store.begin(f"claim run key {run_key!r}") as conn:
            _insert_new(
                conn,
                sync_claims,
                {
                    "run_key": run_key,
                    "connection_id": connection_id,
                    "job_type": job_type,
                    "updated_at": utcnow(),
                },
                [sync_claims.c.run_key],
            )
            query = sa.select(sync_claims).where(sync_claims.c.run_key == run_key)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            existing = _claim(conn.execute(query).mappings().one())
            now = utcnow()  # after the lock wait

            def write(claim: Claim) -> None:
                conn.execute(
                    sync_claims.update()
                    .where(sync_claims.c.run_key == run_key)
                    .values(
                        **_holder_values(claim.holder),
                        connection_id=connection_id,
                        job_type=job_type,
                        claimed_at=claim.claimed_at,
                        lease_until=claim.lease_until,
                        updated_at=now,
                    )
                )

            yield LockedClaim(existing, self._last_succeeded(conn, run_key), now, write)

    def mark_intent(self, run_key: str, holder: Holder, seen_max: int | None) -> None:
        """Commit "a POST may leave now"; an earlier intent (and its job id) is kept."""
        now = utcnow()
        keep = sync_claims.c.intent_at.is_not(None)
        with self._store.write(f"record the create intent of run key {run_key!r}") as conn:
            result = conn.execute(
                sync_claims.update()
                .where(sync_claims.c.run_key == run_key, sync_claims.c.holder_token == holder.token)
                .values(
                    intent_at=sa.case((keep, sync_claims.c.intent_at), else_=now),
                    intent_seen_max=sa.case((keep, sync_claims.c.intent_seen_max), else_=seen_max),
                    updated_at=now,
                )
            )
        if result.rowcount == 0:
            raise ClaimLostError(f"run key {run_key!r}: this process no longer holds the claim")

    def renew(self, run_key: str, holder: Holder, lease_s: float = DEFAULT_LEASE_S) -> bool:
        """Extend the lease by ``lease_s`` from now; False if the claim is no longer ours."""
        now = utcnow()
        with self._store.write(f"renew the claim of run key {run_key!r}") as conn:
            result = conn.execute(
                sync_claims.update()
                .where(sync_claims.c.run_key == run_key, sync_claims.c.holder_token == holder.token)
                .values(lease_until=now + timedelta(seconds=lease_s), updated_at=now)
            )
        return bool(result.rowcount)

    def release(self, run_key: str, holder: Holder) -> None:
        """Give the claim up; its intent (if any) stays for the next holder to reconcile."""
        with self._store.write(f"release the claim of run key {run_key!r}") as conn:
            conn.execute(
                sync_claims.update()
                .where(sync_claims.c.run_key == run_key, sync_claims.c.holder_token == holder.token)
                .values(**_holder_values(None), lease_until=None, updated_at=utcnow())
            )

    def get_claim(self, run_key: str) -> Claim | None:
        query = sa.select(sync_claims).where(sync_claims.c.run_key == run_key)
        with self._store.query(f"read the claim of run key {run_key!r}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _claim(row)

    def claims_held_by(self, run_id: str) -> list[Claim]:
        """Claims still held by a process of this run (for marking abandoned runs)."""
        query = (
            sa.select(sync_claims)
            .where(sync_claims.c.holder_run_id == run_id, sync_claims.c.holder_token.is_not(None))
            .order_by(sync_claims.c.run_key)
        )
        with self._store.query(f"list the claims of run {run_id}") as conn:
            return [_claim(row) for row in conn.execute(query).mappings()]

    # --- beyond the protocol ------------------------------------------------------------

    def last_succeeded_for_connection(self, connection_id: str) -> LedgerEntry | None:
        """The connection's most recently finished successful job, from any run key.

        Freshness checks use it: "did this connection sync successfully recently?"
        """
        query = (
            sa.select(*_COLUMNS)
            .where(
                airbyte_jobs.c.connection_id == connection_id,
                airbyte_jobs.c.status == "succeeded",
                airbyte_jobs.c.finished.is_(True),
            )
            .order_by(airbyte_jobs.c.finished_at.desc().nulls_last(), airbyte_jobs.c.id.desc())
            .limit(1)
        )
        with self._store.query(f"look up the last success of connection {connection_id}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _entry(row)

    def recent_for_connection(self, connection_id: str, limit: int = 20) -> list[LedgerEntry]:
        """The connection's jobs, newest recorded first."""
        query = (
            sa.select(*_COLUMNS)
            .where(airbyte_jobs.c.connection_id == connection_id)
            .order_by(airbyte_jobs.c.id.desc())
            .limit(limit)
        )
        with self._store.query(f"list jobs of connection {connection_id}") as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def created_since(self, since: datetime) -> list[LedgerEntry]:
        """Every connection's jobs recorded at or after ``since``, newest first."""
        query = (
            sa.select(*_COLUMNS)
            .where(airbyte_jobs.c.created_at >= since)
            .order_by(airbyte_jobs.c.id.desc())
        )
        with self._store.query(f"list jobs recorded since {since.isoformat()}") as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    # --- rejected loads (see ledger.py, "rejected") ------------------------------------

    def reject(self, rejection: Rejection) -> Rejection:
        """Reject a succeeded job's load, in one transaction: its ledger rows (every run
        key) take the status ``rejected`` and the rejection is written. Idempotent: a
        second call for the same run key and job keeps (and returns) the first record."""
        values = {
            "run_key": rejection.run_key,
            "connection_id": rejection.connection_id,
            "job_id": rejection.job_id,
            "pipeline": rejection.pipeline or None,
            "step_name": rejection.step or None,
            "streams": list(rejection.streams),
            "reason": rejection.reason[:2000] or None,
            "rejected_by": rejection.rejected_by[:255] or None,
            "rejected_at": ensure_utc(rejection.rejected_at, "rejected_at"),
            "run_id": rejection.run_id or None,
        }
        action = f"reject job {rejection.job_id} of run key {rejection.run_key!r}"
        with self._store.begin(action) as conn:
            keys = [rejected_jobs.c.run_key, rejected_jobs.c.job_id]
            _insert_new(conn, rejected_jobs, values, keys)
            conn.execute(
                airbyte_jobs.update()
                .where(
                    airbyte_jobs.c.connection_id == rejection.connection_id,
                    airbyte_jobs.c.job_id == rejection.job_id,
                    airbyte_jobs.c.status == "succeeded",
                )
                .values(status=REJECTED, reason=f"rejected: {rejection.reason}"[:2000])
            )
            # The runs that loaded it say so in `show`, `history` and their reports.
            note = f" [load rejected: {_rejected_note(rejection)}]"
            conn.execute(
                steps.update()
                .where(
                    steps.c.kind == "sync",
                    steps.c.job_id == rejection.job_id,
                    ~sa.func.coalesce(steps.c.message, "").contains("[load rejected"),
                )
                .values(message=sa.func.coalesce(steps.c.message, "") + note)
            )
        found = self.rejection_of(rejection.connection_id, rejection.job_id)
        assert found is not None
        return found

    def rejection_of(self, connection_id: str, job_id: int) -> Rejection | None:
        """The rejection of this job, if its load was rejected."""
        query = (
            sa.select(rejected_jobs)
            .where(
                rejected_jobs.c.connection_id == connection_id,
                rejected_jobs.c.job_id == int(job_id),
            )
            .order_by(rejected_jobs.c.id)
            .limit(1)
        )
        with self._store.query(f"look up the rejection of job {job_id}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _rejection(row)

    def last_rejection(self, run_key: str) -> Rejection | None:
        """The newest rejection of a job of this run key."""
        query = (
            sa.select(rejected_jobs)
            .where(rejected_jobs.c.run_key == run_key)
            .order_by(rejected_jobs.c.id.desc())
            .limit(1)
        )
        with self._store.query(f"look up the rejections of run key {run_key!r}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _rejection(row)

    def rejected_keys(self) -> tuple[frozenset[str], frozenset[str]]:
        """The run keys and the connection ids that have a rejected job, in one read (a
        scheduling pass asks once; almost always both are empty)."""
        query = sa.select(rejected_jobs.c.run_key, rejected_jobs.c.connection_id).distinct()
        with self._store.query("list the rejected loads") as conn:
            rows = list(conn.execute(query))
        return frozenset(str(r[0]) for r in rows), frozenset(str(r[1]) for r in rows)

    def rejected_job_ids(self, connection_id: str) -> set[int]:
        """Every rejected job of the connection (freshness must not count them)."""
        query = sa.select(rejected_jobs.c.job_id).where(
            rejected_jobs.c.connection_id == connection_id
        )
        with self._store.query(f"list the rejected jobs of connection {connection_id}") as conn:
            values: list[Any] = list(conn.execute(query).scalars())
        return {int(v) for v in values}

    def entries(self) -> list[LedgerEntry]:
        """Every row, oldest first (as ``InMemoryLedger.entries``); for tests and debugging."""
        query = sa.select(*_COLUMNS).order_by(airbyte_jobs.c.id)
        with self._store.query("list the ledger") as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]
