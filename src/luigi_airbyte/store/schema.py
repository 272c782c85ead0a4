"""The current table layout (the result of every migration), used by all queries.

``migrations.py`` owns how a database gets here; this module only describes the
destination: each table is its released layout (``layouts.py``) plus what later
migrations added. ``tests/store`` reflects a migrated database and compares it with these
tables, so the two cannot drift apart. Time columns are ``UTCDateTime`` (``_types.py``).
"""

from __future__ import annotations

import sqlalchemy as sa

from luigi_airbyte.store import layouts
from luigi_airbyte.store._types import UTCDateTime as UTCDateTime
from luigi_airbyte.store._types import ensure_utc as ensure_utc
from luigi_airbyte.store._types import utcnow as utcnow

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


def clean_text(value: str | None) -> str | None:
    """Free text (error output of dbt, Spark, Airbyte) made storable everywhere.

    PostgreSQL refuses NUL characters in text; SQLite keeps them. Replace them on both so
    a report looks the same whichever backend stored it.
    """
    if value is None:
        return None
    return str(value).replace("\x00", "\ufffd")


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
    *layouts.runs_v1(),
    sa.Column("message", sa.Text, nullable=True),  # migration 2
    sa.Column("identity", sa.String(255), nullable=True),  # migration 4
    # migration 5: who holds a running run, and when it last said it was alive
    sa.Column("heartbeat_at", UTCDateTime, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("pid_started_at", sa.Float, nullable=True),  # epoch seconds; a reused pid differs
)

steps = sa.Table(
    "steps",
    metadata,
    *layouts.steps_v1(),
    sa.Column("exit_code", sa.Integer, nullable=True),  # migration 5: a failed step's code
)

# The job ledger (see ledger.py): one row per (run key, Airbyte job).
airbyte_jobs = sa.Table(
    "airbyte_jobs",
    metadata,
    *layouts.airbyte_jobs_v1(),
    sa.Column("reason", sa.Text, nullable=True),  # migration 3: why it was settled so
    # migration 2: last succeeded job of a connection
    sa.Index(
        "ix_airbyte_jobs_connection_id_status_finished_at",
        "connection_id",
        "status",
        "finished_at",
    ),
    sa.Index("ix_airbyte_jobs_created_at", "created_at"),  # migration 8: a run's jobs
)

# migration 3: the claim on each run key (see ledger.py, "the ledger is a lock").
sync_claims = sa.Table("sync_claims", metadata, *layouts.sync_claims_v3())
stream_stats = sa.Table("stream_stats", metadata, *layouts.stream_stats_v1())
check_results = sa.Table("check_results", metadata, *layouts.check_results_v1())
events = sa.Table("events", metadata, *layouts.events_v1())

# migration 6: Airbyte webhook hints received by `webhook serve`.
webhook_hints = sa.Table("webhook_hints", metadata, *layouts.webhook_hints_v6())

# migration 7: a succeeded job whose load a reload rejected (see ledger.py, "rejected").
rejected_jobs = sa.Table("rejected_jobs", metadata, *layouts.rejected_jobs_v7())
