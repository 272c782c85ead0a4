"""Run Airbyte jobs so that a retry never starts a second sync of the same data.

``SyncRunner`` finds or starts the one job for a logical sync (ledger, running job,
409, reconciled create), waits for it with a poll strategy, and checks the outcome.
No Luigi here: ``luigi_airbyte.tasks`` wraps it.
"""

from luigi_airbyte.sync.api import TRANSIENT_ERRORS, AirbyteJobsAPI
from luigi_airbyte.sync.clock import Clock, FakeClock, SystemClock
from luigi_airbyte.sync.outcome import (
    Finding,
    Totals,
    Verdict,
    check_drop,
    check_lost_in_final_attempt,
    check_lost_records,
    check_zero_rows,
    evaluate_outcome,
    final_attempt_shortfall,
    is_full_refresh,
    stream_totals,
    totals_from_details,
)
from luigi_airbyte.sync.polling import (
    AdaptivePolling,
    DurationStats,
    FixedInterval,
    PollState,
    PollStrategy,
    duration_stats,
    history_duration_stats,
    job_duration,
)
from luigi_airbyte.sync.results import (
    MISSING,
    REJECTED,
    AttachHow,
    Attachment,
    Progress,
    ProgressCallback,
    SyncResult,
)
from luigi_airbyte.sync.runner import SyncRunner
from luigi_airbyte.sync.settings import SyncSettings
from luigi_airbyte.sync.signals import Terminated, handle_termination

__all__ = [
    "MISSING",
    "REJECTED",
    "TRANSIENT_ERRORS",
    "AdaptivePolling",
    "AirbyteJobsAPI",
    "AttachHow",
    "Attachment",
    "Clock",
    "DurationStats",
    "FakeClock",
    "Finding",
    "FixedInterval",
    "PollState",
    "PollStrategy",
    "Progress",
    "ProgressCallback",
    "SyncResult",
    "SyncRunner",
    "SyncSettings",
    "SystemClock",
    "Terminated",
    "Totals",
    "Verdict",
    "check_drop",
    "check_lost_in_final_attempt",
    "check_lost_records",
    "check_zero_rows",
    "duration_stats",
    "evaluate_outcome",
    "final_attempt_shortfall",
    "handle_termination",
    "history_duration_stats",
    "is_full_refresh",
    "job_duration",
    "stream_totals",
    "totals_from_details",
]
