"""The current table layout (the result of every migration), used by all queries.

``migrations.py`` owns how a database gets here; this module only describes the
destination. ``tests/store`` reflects a migrated database and compares it with these
tables, so the two cannot drift apart.

Timestamps are always timezone-aware UTC in Python. PostgreSQL stores them as
``timestamptz``; SQLite as ``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC, which sorts
correctly as text. ``UTCDateTime`` makes both look the same to callers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

STEP_KINDS = ("sync", "check", "dbt", "spark", "command")
STEP_STATUSES = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "fresh",
    "not_run",
    "upstream_failed",
    "abandoned",  # migration 5: its process died while it ran (see app.run_service)
)
RUN_STATUSES = ("running", "succeeded", "failed", "abandoned")


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def ensure_utc(value: datetime, what: str = "timestamp") -> datetime:
    """Reject naive datetimes (their zone is a guess) and convert aware ones to UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{what} {value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime.now(timezone.utc))"
        )
    return value.astimezone(timezone.utc)


def clean_text(value: str | None) -> str | None:
    """Free text (error output of dbt, Spark, Airbyte) made storable everywhere.

    PostgreSQL refuses NUL characters in text; SQLite keeps them. Replace them on both so
    a report looks the same whichever backend stored it.
    """
    if value is None:
        return None
    return str(value).replace("\x00", "\ufffd")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        if dialect.name == "sqlite":
            # SQLite's DATETIME drops the offset silently: store plain UTC instead.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - driver contract
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Surrogate keys: BIGSERIAL on PostgreSQL, the INTEGER rowid alias on SQLite.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Bootstrap table: created before any migration runs, never altered.
schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("run_date", sa.Date, nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("argv", sa.Text, nullable=True),
    sa.Column("scheduler", sa.String(255), nullable=True),
    sa.Column("message", sa.Text, nullable=True),  # migration 2
    sa.Column("identity", sa.String(255), nullable=True),  # migration 4
    # migration 5: who holds a running run, and when it last said it was alive
    sa.Column("heartbeat_at", UTCDateTime, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("pid_started_at", sa.Float, nullable=True),  # epoch seconds; a reused pid differs
    sa.Index("ix_runs_pipeline_started_at", "pipeline", "started_at"),
    sa.Index("ix_runs_started_at", "started_at"),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(36),
        sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("step_name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("job_id", sa.BigInteger, nullable=True),
    sa.Column("rows", sa.BigInteger, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),  # migration 5: a failed step's code
    sa.UniqueConstraint("run_id", "step_name", name="uq_steps_run_id_step_name"),
)

# The job ledger (see ledger.py): one row per (run key, Airbyte job).
airbyte_jobs = sa.Table(
    "airbyte_jobs",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("run_key", sa.String(500), nullable=False),
    sa.Column("connection_id", sa.String(100), nullable=False),
    sa.Column("job_id", sa.BigInteger, nullable=False),
    sa.Column("job_type", sa.String(32), nullable=False),
    sa.Column("attached", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("finished", sa.Boolean, nullable=False),
    sa.Column("rows_committed", sa.BigInteger, nullable=True),
    sa.Column("bytes_committed", sa.BigInteger, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),  # migration 3: why it was settled so
    sa.UniqueConstraint("run_key", "job_id", name="uq_airbyte_jobs_run_key_job_id"),
    sa.Index("ix_airbyte_jobs_run_key_id", "run_key", "id"),
    # migration 2: last succeeded job of a connection
    sa.Index(
        "ix_airbyte_jobs_connection_id_status_finished_at",
        "connection_id",
        "status",
        "finished_at",
    ),
)

# migration 3: the claim on each run key (see ledger.py, "the ledger is a lock").
sync_claims = sa.Table(
    "sync_claims",
    metadata,
    sa.Column("run_key", sa.String(500), primary_key=True),
    sa.Column("connection_id", sa.String(100), nullable=False),
    sa.Column("job_type", sa.String(32), nullable=False),
    sa.Column("holder_token", sa.String(64), nullable=True),
    sa.Column("holder_run_id", sa.String(36), nullable=True),
    sa.Column("holder_host", sa.String(255), nullable=True),
    sa.Column("holder_pid", sa.Integer, nullable=True),
    sa.Column("holder_started", sa.Float, nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("intent_at", UTCDateTime, nullable=True),
    sa.Column("intent_seen_max", sa.BigInteger, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_sync_claims_holder_run_id", "holder_run_id"),
)

stream_stats = sa.Table(
    "stream_stats",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(36),
        sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("step_name", sa.String(200), nullable=False),
    sa.Column("job_id", sa.BigInteger, nullable=True),
    sa.Column("stream", sa.String(500), nullable=False),
    sa.Column("namespace", sa.String(500), nullable=True),
    sa.Column("records_emitted", sa.BigInteger, nullable=False),
    sa.Column("records_committed", sa.BigInteger, nullable=False),
    sa.Column("bytes_emitted", sa.BigInteger, nullable=False),
    sa.Column("bytes_committed", sa.BigInteger, nullable=False),
    sa.Column("records_rejected", sa.BigInteger, nullable=False),
    sa.Index("ix_stream_stats_run_id_step_name", "run_id", "step_name"),
)

check_results = sa.Table(
    "check_results",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(36),
        sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("step_name", sa.String(200), nullable=False),
    # "check" is reserved in SQL; the column is check_name, the Python field is ``check``.
    sa.Column("check_name", sa.String(200), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_check_results_run_id_step_name", "run_id", "step_name"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(36),
        sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("fields", sa.JSON, nullable=True),
    sa.Index("ix_events_run_id_at", "run_id", "at"),
)

# migration 6: Airbyte's sync notifications as received by `webhook serve` (hints only:
# a reader confirms each with GET /jobs/{job_id}). One row per (connection, job).
webhook_hints = sa.Table(
    "webhook_hints",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("connection_id", sa.String(100), nullable=False),
    sa.Column("job_id", sa.BigInteger, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("connection_id", "job_id", name="uq_webhook_hints_connection_id_job_id"),
)
