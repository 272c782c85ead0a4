"""dbt, Spark and command runners whose results are parsed into records.

Every runner runs its program in a child process group with a minimal environment,
emits ``transform.started`` / ``transform.finished`` / ``transform.failed`` events,
returns a ``TransformResult`` and raises ``TransformFailedError`` (a ``TransformError``,
exit 7) when the step fails. See docs/transforms-and-checks.md.
"""

from __future__ import annotations

from luigi_airbyte.transforms._env import BASE_ENV_KEYS
from luigi_airbyte.transforms._result import (
    Redactor,
    TransformFailedError,
    TransformRecord,
    TransformResult,
)
from luigi_airbyte.transforms.command import CommandRunner
from luigi_airbyte.transforms.dbt import DbtRunner, parse_run_results
from luigi_airbyte.transforms.dbt_subprocess import RESULT_FILE_ENV
from luigi_airbyte.transforms.spark import SparkRunner, parse_result_file

__all__ = [
    "BASE_ENV_KEYS",
    "RESULT_FILE_ENV",
    "CommandRunner",
    "DbtRunner",
    "Redactor",
    "SparkRunner",
    "TransformFailedError",
    "TransformRecord",
    "TransformResult",
    "parse_result_file",
    "parse_run_results",
]
