"""Process exit codes: the contract with CI. Documented in docs/exit-codes.md."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success, also success after retries
    UNEXPECTED = 1  # a bug or an unexpected environment failure
    USAGE = 2  # bad command line (click's own code)
    CONFIG = 3  # invalid configuration or pipeline file; nothing was contacted
    AIRBYTE = 4  # Airbyte unreachable, auth refused, missing connection, preflight failed
    SYNC = 5  # a sync failed, was cancelled or timed out
    CHECK = 6  # a check failed: drift, counts, freshness SLA
    TRANSFORM = 7  # dbt, Spark or a command failed
    INTERRUPTED = 130  # Ctrl-C; Airbyte jobs are detached (or cancelled) per on_interrupt
