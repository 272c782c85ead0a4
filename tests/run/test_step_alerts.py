"""The recovery command in a failure alert re-runs the same partition of the same run."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from luigi_airbyte.app.step_alerts import interval_from_argv, recovery_command
from luigi_airbyte.app.step_context import StepContext


@pytest.mark.parametrize(
    ("argv", "interval"),
    [
        ("luigi-airbyte run p.yaml --interval 2026-11-24T14 --date 2026-11-24", "2026-11-24T14"),
        ("luigi-airbyte run p.yaml --interval=2026-11-24T15", "2026-11-24T15"),
        ("luigi-airbyte run p.yaml --date 2026-11-24", ""),
        (None, ""),
        ("luigi-airbyte run 'unclosed", ""),
    ],
)
def test_interval_is_read_back_from_the_stored_command_line(
    argv: str | None, interval: str
) -> None:
    assert interval_from_argv(argv) == interval


def test_recovery_command_names_file_pipeline_date_and_interval(tmp_path: Path) -> None:
    pipeline = tmp_path / "my pipelines" / "nightly.yaml"
    rt: Any = SimpleNamespace(pipeline_file=SimpleNamespace(source=str(pipeline)))
    ctx = StepContext("nightly", "crm", dt.date(2026, 11, 24), interval="2026-11-24T14")

    argv = shlex.split(recovery_command(rt, ctx))

    assert argv == [
        "luigi-airbyte",
        "run",
        str(pipeline.resolve()),
        "-p",
        "nightly",
        "--date",
        "2026-11-24",
        "--interval",
        "2026-11-24T14",
    ]
