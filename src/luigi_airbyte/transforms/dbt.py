"""Run a dbt project as a pipeline step and turn ``run_results`` into one record per node.

dbt runs in a child process (see ``dbt_subprocess``). Secrets reach dbt only through
environment variables that ``profiles.yml`` reads with ``env_var()``; name them
``DBT_ENV_SECRET_*`` and dbt scrubs them from its own logs too. ``vars`` end up on the
command line, so they must never hold a secret.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from luigi_airbyte.observe.events import Emitter
from luigi_airbyte.transforms._env import build_env, masking_redactor, secret_values
from luigi_airbyte.transforms._process import ProcessOutcome
from luigi_airbyte.transforms._result import Redactor, TransformRecord, TransformResult, identity
from luigi_airbyte.transforms._step import Collected, StepSpec, run_step
from luigi_airbyte.transforms.dbt_subprocess import RESULT_FILE_ENV

DBT_COMMANDS = frozenset({"build", "run", "test", "seed", "snapshot", "compile"})
_SRC_ROOT = str(Path(__file__).resolve().parents[2])  # so the child imports this package
_QUIET_DEFAULTS = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
_MAX_LISTED = 10


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def render_log_line(stream: str, line: str) -> str | None:
    """Turn a ``--log-format json`` line into its human message; other lines pass through."""
    if not line.startswith("{"):
        return line
    try:
        info = json.loads(line).get("info", {})
    except (ValueError, AttributeError):
        return line
    if info.get("level") == "debug":
        return None
    msg = info.get("msg")
    return str(msg) if msg is not None else line


def parse_run_results(data: Mapping[str, Any]) -> tuple[TransformRecord, ...]:
    """One record per node of a ``run_results.json`` document (any schema since v4)."""
    records = []
    for node in data.get("results") or []:
        adapter = node.get("adapter_response") or {}
        rows = adapter.get("rows_affected")
        message = node.get("message") or ""
        failures = node.get("failures")
        if not message and failures:
            message = f"{failures} failing rows"
        records.append(
            TransformRecord(
                name=str(node.get("unique_id", "?")),
                status=str(node.get("status", "unknown")),
                rows_affected=rows if isinstance(rows, int) and rows >= 0 else None,
                duration_s=round(float(node.get("execution_time") or 0.0), 3),
                message=str(message),
            )
        )
    return tuple(records)


def describe_failures(records: Sequence[TransformRecord]) -> str | None:
    """``failed: model.p.a (error: first line); skipped: ...`` or None when nothing failed."""
    failed = [r for r in records if r.failed]
    if not failed:
        return None
    parts = []
    for r in failed[:_MAX_LISTED]:
        lines = [x.strip() for x in r.message.splitlines() if x.strip()]
        first = " | ".join(lines[:2])[:300]
        parts.append(f"{r.name} ({r.status}{': ' + first if first else ''})")
    text = "failed: " + "; ".join(parts)
    if len(failed) > _MAX_LISTED:
        text += f"; and {len(failed) - _MAX_LISTED} more"
    skipped = [r.name for r in records if r.status == "skipped"]
    if skipped:
        more = f" and {len(skipped) - _MAX_LISTED} more" if len(skipped) > _MAX_LISTED else ""
        text += f"; skipped: {', '.join(skipped[:_MAX_LISTED])}{more}"
    return text


class DbtRunner:
    """``dbt <command>`` for one project, in a child process, with per-node records.

    ``run()`` returns a ``TransformResult`` or raises ``TransformFailedError`` (exit 7)
    naming the failed nodes, the exit code and the last lines of dbt's log.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        *,
        profiles_dir: str | os.PathLike[str] | None = None,
        target: str | None = None,
        command: str = "build",
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        vars: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        threads: int | None = None,
        full_refresh: bool = False,
        extra_args: Sequence[str] = (),
        timeout: float | None = None,
        name: str | None = None,
        emitter: Emitter | None = None,
        redact: Redactor = identity,
        python: str | None = None,
    ) -> None:
        if command not in DBT_COMMANDS:
            raise ValueError(
                f"unsupported dbt command {command!r}; use one of {', '.join(sorted(DBT_COMMANDS))}"
            )
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self.project_dir = Path(project_dir).resolve()
        self.profiles_dir = None if profiles_dir is None else Path(profiles_dir).resolve()
        self.target = target
        self.command = command
        self.select = _as_list(select)
        self.exclude = _as_list(exclude)
        self.vars = dict(vars or {})
        self.env = dict(env or {})
        self.threads = threads
        self.full_refresh = full_refresh
        self.extra_args = list(extra_args)
        self.timeout = timeout
        self.name = name or self.project_dir.name
        self.emitter = emitter
        self.redact = masking_redactor(secret_values(self.env), redact)
        self.python = python or sys.executable

    def dbt_args(self) -> list[str]:
        """The dbt arguments (no secrets by construction; ``vars`` must not hold any)."""
        args = [
            self.command,
            "--project-dir",
            str(self.project_dir),
            "--log-format",
            "json",
            "--no-use-colors",
        ]
        if self.profiles_dir is not None:
            args += ["--profiles-dir", str(self.profiles_dir)]
        if self.target:
            args += ["--target", self.target]
        if self.select:
            args += ["--select", *self.select]
        if self.exclude:
            args += ["--exclude", *self.exclude]
        if self.vars:
            args += ["--vars", json.dumps(self.vars, sort_keys=True)]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        if self.full_refresh:
            args.append("--full-refresh")
        return args + self.extra_args

    def run(self) -> TransformResult:
        with tempfile.TemporaryDirectory(prefix="luigi-airbyte-dbt-") as tmp:
            result_file = Path(tmp) / "run_results.json"
            pythonpath = os.pathsep.join(
                p for p in (_SRC_ROOT, os.environ.get("PYTHONPATH", "")) if p
            )
            env = build_env(self.env, defaults={**_QUIET_DEFAULTS, "PYTHONPATH": pythonpath})
            env[RESULT_FILE_ENV] = str(result_file)
            spec = StepSpec(
                kind="dbt",
                name=self.name,
                argv=[
                    self.python,
                    "-m",
                    "luigi_airbyte.transforms.dbt_subprocess",
                    *self.dbt_args(),
                ],
                env=env,
                cwd=self.project_dir,
                timeout=self.timeout,
                on_line=render_log_line,
                fields={
                    "command": self.command,
                    "project_dir": str(self.project_dir),
                    "select": " ".join(self.select),
                },
            )

            def collect(outcome: ProcessOutcome) -> Collected:
                if not result_file.exists():
                    return Collected()
                records = parse_run_results(json.loads(result_file.read_text("utf-8")))
                return Collected(records=records, problem=describe_failures(records))

            return run_step(spec, collect=collect, emitter=self.emitter, redact=self.redact)
