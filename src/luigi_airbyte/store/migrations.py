"""Versioned schema migrations: an ordered list, applied in one locked transaction.

Each migration is frozen once released: it describes the tables *as they were* at that
version, never by importing ``schema.py`` (which only knows the latest layout). Tables
are created from their released column lists in ``layouts.py``, which ``schema.py``
extends. To change the schema, append a migration here and update ``schema.py`` to
match; the store tests compare a migrated database with ``schema.py``.

Two processes may open the store at once. The migration transaction first takes a lock
(PostgreSQL: ``pg_advisory_xact_lock``; SQLite: ``BEGIN IMMEDIATE``), then reads the
version, so the second process waits, sees the work done and applies nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store import layouts
from luigi_airbyte.store.engine import BEGIN_MODE_OPTION, mask_url
from luigi_airbyte.store.schema import schema_version, utcnow

# pg_advisory_xact_lock key: b"LA-STORE" read as a big-endian signed 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"LA-STORE", "big", signed=True)


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply`` runs inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_create_all(conn: Connection) -> None:
    """Version 1: every table, as released in 0.1 (layouts.V1_TABLES)."""
    md = sa.MetaData()
    for name, layout in layouts.V1_TABLES:
        sa.Table(name, md, *layout())
    md.create_all(conn)


def _v2_run_message_and_connection_index(conn: Connection) -> None:
    """Version 2: ``runs.message`` (why a run ended so) and the last-success-by-connection index."""
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN message TEXT"))
    conn.execute(
        sa.text(
            "CREATE INDEX ix_airbyte_jobs_connection_id_status_finished_at "
            "ON airbyte_jobs (connection_id, status, finished_at)"
        )
    )


def _v3_sync_claims(conn: Connection) -> None:
    """Version 3: ``sync_claims`` (the lock on each run key) and ``airbyte_jobs.reason``."""
    md = sa.MetaData()
    sa.Table("sync_claims", md, *layouts.sync_claims_v3())
    md.create_all(conn)
    conn.execute(sa.text("ALTER TABLE airbyte_jobs ADD COLUMN reason TEXT"))


def _v4_run_identity(conn: Connection) -> None:
    """Version 4: ``runs.identity``, who the run acted as (client id or token subject)."""
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN identity VARCHAR(255)"))


def _v5_heartbeat_and_step_exit_code(conn: Connection) -> None:
    """Version 5: a run's holder and heartbeat (``runs.heartbeat_at``, ``pid``,
    ``pid_started_at``) so a killed run can be closed as abandoned, and ``steps.exit_code``
    instead of an ``[exit N]`` prefix in the step's message (existing prefixes move over).
    """
    for column, type_ in (
        ("heartbeat_at", sa.DateTime(timezone=True)),
        ("pid", sa.Integer()),
        ("pid_started_at", sa.Float()),
    ):
        kind = type_.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE runs ADD COLUMN {column} {kind}"))
    conn.execute(sa.text("ALTER TABLE steps ADD COLUMN exit_code INTEGER"))
    prefix = re.compile(r"^\[exit (\d+)\]\s*")
    rows = conn.execute(
        sa.text("SELECT id, message FROM steps WHERE message LIKE :p"), {"p": "[exit %"}
    ).all()
    for row_id, raw in rows:
        message = str(raw or "")
        match = prefix.match(message)
        if match is not None:
            conn.execute(
                sa.text("UPDATE steps SET exit_code = :c, message = :m WHERE id = :i"),
                {"c": int(match.group(1)), "m": message[match.end() :], "i": row_id},
            )


def _v6_webhook_hints(conn: Connection) -> None:
    """Version 6: ``webhook_hints``, Airbyte's sync notifications received by a shared
    receiver (``webhook serve``), one row per connection and job."""
    md = sa.MetaData()
    sa.Table("webhook_hints", md, *layouts.webhook_hints_v6())
    md.create_all(conn)


def _v7_rejected_jobs(conn: Connection) -> None:
    """Version 7: ``rejected_jobs``, a succeeded job whose load was rejected (who, why,
    when, which streams to reload) so that no one counts it as the good load again."""
    md = sa.MetaData()
    sa.Table("rejected_jobs", md, *layouts.rejected_jobs_v7())
    md.create_all(conn)


def _v8_jobs_by_creation(conn: Connection) -> None:
    """Version 8: index ``airbyte_jobs.created_at``, for one read of a run's jobs per
    scheduling pass (``tasks/scheduling.py``) instead of a scan of the whole ledger."""
    conn.execute(sa.text("CREATE INDEX ix_airbyte_jobs_created_at ON airbyte_jobs (created_at)"))


MIGRATIONS: tuple[Migration, ...] = (  # append only; never edit a released entry
    Migration(
        1, "create runs, steps, airbyte_jobs, stream_stats, check_results, events", _v1_create_all
    ),
    Migration(
        2,
        "add runs.message and index airbyte_jobs by connection, status, finished_at",
        _v2_run_message_and_connection_index,
    ),
    Migration(3, "add sync_claims (run key claims) and airbyte_jobs.reason", _v3_sync_claims),
    Migration(4, "add runs.identity (client id or token subject)", _v4_run_identity),
    Migration(
        5,
        "add runs.heartbeat_at, pid, pid_started_at and steps.exit_code",
        _v5_heartbeat_and_step_exit_code,
    ),
    Migration(6, "add webhook_hints (sync notifications received)", _v6_webhook_hints),
    Migration(7, "add rejected_jobs (loads rejected by a reload)", _v7_rejected_jobs),
    Migration(8, "index airbyte_jobs by created_at", _v8_jobs_by_creation),
)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The highest applied version; 0 for an empty database."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0)


def too_new_error(found: int, engine: Engine) -> StoreError:
    return StoreError(
        f"metadata store {mask_url(engine.url)} has schema version {found}, but this "
        f"luigi-airbyte only knows versions up to {LATEST_VERSION}: a newer luigi-airbyte "
        "wrote it. Upgrade luigi-airbyte (pip install -U luigi-airbyte), or point the store "
        "URL at another database."
    )


def migrate(
    engine: Engine, migrations: tuple[Migration, ...] = MIGRATIONS
) -> tuple[int, list[int]]:
    """Bring the database to the latest version; returns (version, versions applied now).

    Idempotent and safe to call from several processes at the same moment. Raises
    ``StoreError`` when the database is newer than this code.
    """
    _check_sequence(migrations)
    latest = migrations[-1].version if migrations else 0
    applied: list[int] = []
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
            schema_version.create(conn, checkfirst=True)
            found = current_version(conn)
            if found > latest:
                raise too_new_error(found, engine)
            for migration in migrations:
                if migration.version <= found:
                    continue
                migration.apply(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=migration.version,
                        description=migration.description[:200],
                        applied_at=utcnow(),
                    )
                )
                applied.append(migration.version)
    return max(found, latest), applied


def _check_sequence(migrations: tuple[Migration, ...]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1..N without gaps, got {versions}")
