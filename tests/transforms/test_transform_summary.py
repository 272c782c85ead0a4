"""A transform step's note in the run's summary says what ran, in the step's own words.

It read "1 records in 4.6s" for the demo's dbt step and its command step: one row loaded,
to anyone reading the summary at 2 a.m. Row counts have their own column. A run that
records the note: ``tests/run/test_run_finish.py``.
"""

from __future__ import annotations

import datetime as dt

from luigi_airbyte.transforms import TransformRecord, TransformResult

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)


def _result(kind: str, *records: TransformRecord, exit_code: int | None = 0) -> TransformResult:
    return TransformResult(
        kind=kind,
        name="step",
        succeeded=True,
        started_at=NOW,
        finished_at=NOW,
        duration_s=4.61,
        records=records,
        log_tail="",
        exit_code=exit_code,
    )


def test_dbt_counts_nodes_by_status() -> None:
    one = _result("dbt", TransformRecord("model.demo.users", "success", rows_affected=1))
    assert one.summary() == "1 dbt node (1 success) in 4.6s"
    three = _result(
        "dbt",
        TransformRecord("model.demo.a", "success"),
        TransformRecord("test.demo.b", "pass"),
        TransformRecord("test.demo.c", "pass"),
    )
    assert three.summary() == "3 dbt nodes (2 pass, 1 success) in 4.6s"


def test_spark_counts_its_outputs() -> None:
    result = _result("spark", TransformRecord("daily", "success", rows_affected=10))
    assert result.summary() == "1 Spark output (1 success) in 4.6s"
    assert _result("spark").summary() == "0 Spark outputs in 4.6s"


def test_a_command_shows_its_exit_and_last_line() -> None:
    ok = _result("command", TransformRecord("report", "success", message="  wrote  out/a.md "))
    assert ok.summary() == "exit 0 in 4.6s: wrote out/a.md"
    assert _result("command", TransformRecord("r", "success")).summary() == "exit 0 in 4.6s"
    late = _result("command", TransformRecord("r", "timeout"), exit_code=None)
    assert late.summary() == "timed out in 4.6s"


def test_a_long_last_line_is_cut() -> None:
    result = _result("command", TransformRecord("r", "success", message="x" * 500))
    line = result.summary(limit=60)
    assert len(line) == 60 and line.endswith("…") and line.startswith("exit 0 in 4.6s: xxx")
