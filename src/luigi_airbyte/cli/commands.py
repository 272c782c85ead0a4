"""Importing this module registers every command on the ``cli`` group."""

from __future__ import annotations

from luigi_airbyte.cli import (  # noqa: F401
    config_cmd,
    connections_cmd,
    credentials_cmd,
    history_cmd,
    jobs_cmd,
    plan_cmd,
    preflight_cmd,
    quickstart_cmd,
    report_cmd,
    run_cmd,
    sandbox_cmd,
    sync_cmd,
    validate_cmd,
)
