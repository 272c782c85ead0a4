"""luigi_airbyte.store: the metadata store, the job ledger, and run reports.

``Store`` (SQLite file by default, PostgreSQL by URL) records runs, steps, the Airbyte
job ledger, per-stream counts, check results and events; ``junit_xml``/``json_report``
turn a recorded run into CI reports. Depends only on the stdlib, SQLAlchemy and psutil
(whether a claim holder is alive).
"""

from luigi_airbyte.store.database import Store
from luigi_airbyte.store.engine import default_url, mask_url
from luigi_airbyte.store.hints import HintRecord
from luigi_airbyte.store.ledger import InMemoryLedger, Ledger, LedgerEntry
from luigi_airbyte.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, migrate
from luigi_airbyte.store.reports import (
    JSON_REPORT_KIND,
    JSON_SCHEMA_VERSION,
    json_report,
    junit_xml,
    write_json_report,
    write_junit_xml,
)
from luigi_airbyte.store.runs import (
    UNSET,
    CheckRecord,
    EventRecord,
    RunDetail,
    RunRepository,
    RunSummary,
    StepRecord,
    StreamStatRecord,
    summarize_argv,
)
from luigi_airbyte.store.schema import STEP_KINDS, STEP_STATUSES, utcnow
from luigi_airbyte.store.sql_ledger import SqlLedger

__all__ = [
    "JSON_REPORT_KIND",
    "JSON_SCHEMA_VERSION",
    "LATEST_VERSION",
    "MIGRATIONS",
    "STEP_KINDS",
    "STEP_STATUSES",
    "UNSET",
    "CheckRecord",
    "EventRecord",
    "HintRecord",
    "InMemoryLedger",
    "Ledger",
    "LedgerEntry",
    "Migration",
    "RunDetail",
    "RunRepository",
    "RunSummary",
    "SqlLedger",
    "StepRecord",
    "Store",
    "StreamStatRecord",
    "default_url",
    "json_report",
    "junit_xml",
    "mask_url",
    "migrate",
    "summarize_argv",
    "utcnow",
    "write_json_report",
    "write_junit_xml",
]
