"""Each table's columns as the migration that created it released them: one declaration.

``migrations.py`` creates tables from these (version 1: every table but ``sync_claims``;
version 3: ``sync_claims``) and ``schema.py`` builds the current tables from the same
lists plus the columns and indexes later migrations added. A released layout is frozen:
never edit a function here; change the schema with a new migration instead.

Each call returns new column objects, since SQLAlchemy attaches a column to one table.
"""

from __future__ import annotations

import sqlalchemy as sa

from luigi_airbyte.store._types import UTCDateTime

# Surrogate keys: BIGSERIAL on PostgreSQL, the INTEGER rowid alias on SQLite.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

Items = list[sa.schema.SchemaItem]


def _step_scoped(run_id_nullable: bool = False) -> Items:
    """The surrogate id and the run it belongs to (deleted with the run)."""
    return [
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(36),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=run_id_nullable,
        ),
    ]


def runs_v1() -> Items:
    return [
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
        sa.Index("ix_runs_pipeline_started_at", "pipeline", "started_at"),
        sa.Index("ix_runs_started_at", "started_at"),
    ]


def steps_v1() -> Items:
    return [
        *_step_scoped(),
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
        sa.UniqueConstraint("run_id", "step_name", name="uq_steps_run_id_step_name"),
    ]


def airbyte_jobs_v1() -> Items:
    """The job ledger (see ledger.py): one row per (run key, Airbyte job)."""
    return [
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
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
        sa.UniqueConstraint("run_key", "job_id", name="uq_airbyte_jobs_run_key_job_id"),
        sa.Index("ix_airbyte_jobs_run_key_id", "run_key", "id"),
    ]


def stream_stats_v1() -> Items:
    return [
        *_step_scoped(),
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
    ]


def check_results_v1() -> Items:
    return [
        *_step_scoped(),
        sa.Column("step_name", sa.String(200), nullable=False),
        # "check" is reserved in SQL; the column is check_name, the Python field ``check``.
        sa.Column("check_name", sa.String(200), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Index("ix_check_results_run_id_step_name", "run_id", "step_name"),
    ]


def events_v1() -> Items:
    return [
        *_step_scoped(run_id_nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("fields", sa.JSON, nullable=True),
        sa.Index("ix_events_run_id_at", "run_id", "at"),
    ]


def sync_claims_v3() -> Items:
    """The claim on each run key (see ledger.py, "the ledger is a lock")."""
    return [
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
    ]


def webhook_hints_v6() -> Items:
    """Airbyte's sync notifications received by a shared receiver, one per connection and job."""
    return [
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("connection_id", sa.String(100), nullable=False),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "connection_id", "job_id", name="uq_webhook_hints_connection_id_job_id"
        ),
    ]


def rejected_jobs_v7() -> Items:
    """A succeeded job whose load a reload rejected: who, why, when, which streams."""
    return [
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(500), nullable=False),
        sa.Column("connection_id", sa.String(100), nullable=False),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("pipeline", sa.String(200), nullable=True),
        sa.Column("step_name", sa.String(200), nullable=True),
        sa.Column("streams", sa.JSON, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("rejected_by", sa.String(255), nullable=True),
        sa.Column("rejected_at", UTCDateTime, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.UniqueConstraint("run_key", "job_id", name="uq_rejected_jobs_run_key_job_id"),
        sa.Index("ix_rejected_jobs_connection_id_job_id", "connection_id", "job_id"),
    ]


V1_TABLES = (
    ("runs", runs_v1),
    ("steps", steps_v1),
    ("airbyte_jobs", airbyte_jobs_v1),
    ("stream_stats", stream_stats_v1),
    ("check_results", check_results_v1),
    ("events", events_v1),
)
