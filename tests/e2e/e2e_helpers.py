"""Helpers for the end-to-end tests: a sandbox Airbyte, a pipeline project, the real CLI.

Every test gets its own sandbox (in this process, on loopback) and a project directory
holding a pipeline file, a 0600 secret file and the alert route's JSONL file. The CLI
runs as a user runs it: ``.venv/bin/luigi-airbyte run FILE`` in a subprocess, with a
clean environment (no ``LUIGI_AIRBYTE_*`` or ``LUIGI_CONFIG_PATH`` leaking in) and the
project directory as working directory.

The two connections write to *different* DuckDB files: DuckDB locks a file per process,
so a check reading the CRM warehouse must not collide with the events sync writing.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.world import demo_world_data

VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "luigi-airbyte")
CRM = "Postgres CRM → Warehouse"
EVENTS = "Events API → Warehouse"
DATE = "2026-01-15"


def world_data(
    *,
    job_seconds: float = 0.3,
    slow: dict[str, float] | None = None,
    faults: dict[str, Any] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """The demo world with fast jobs and one warehouse file per connection.

    ``slow`` maps connection names to their own job duration in seconds.
    """
    data = copy.deepcopy(demo_world_data())
    data["destinations"] = [
        {"name": "Warehouse", "type": "duckdb", "path": "warehouse.duckdb"},
        {"name": "Events Warehouse", "type": "duckdb", "path": "events.duckdb"},
    ]
    for conn in data["connections"]:
        if conn["name"] == EVENTS:
            conn["destination"] = "Events Warehouse"
        if slow and conn["name"] in slow:
            conn["job_duration_seconds"] = slow[conn["name"]]
    data["settings"] = {**data["settings"], "job_duration_seconds": job_seconds, **settings}
    if faults:
        data["faults"] = faults
    return data


def default_steps() -> list[dict[str, Any]]:
    """Two syncs, a SQL check after both, a command after the check."""
    return [
        {"sync": "crm", "connection": CRM, "counts": {"warehouse": "main"}},
        {"sync": "events", "connection": EVENTS},
        {
            "check": "users_loaded",
            "after": ["crm", "events"],
            "sql": {"warehouse": "main", "query": "select count(*) > 0 from crm_users"},
        },
        {
            "command": {"argv": [sys.executable, "-c", "print('report done')"]},
            "name": "report",
            "after": ["users_loaded"],
        },
    ]


@dataclass(repr=False)
class RunResult:
    """One finished CLI invocation."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict[str, Any]:
        """The ``--json`` document on stdout."""
        return json.loads(self.stdout)

    def steps(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.doc["steps"]}

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without our settings or Luigi's config path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LUIGI_AIRBYTE_") and k not in ("LUIGI_CONFIG_PATH", "COLUMNS")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Project:
    """A pipeline project directory wired to one sandbox."""

    root: Path
    sandbox: Sandbox
    pipeline_name: str = "nightly"
    path: Path = field(init=False)
    secret_file: Path = field(init=False)
    alerts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "pipeline.yaml"
        self.alerts = self.root / "alerts.jsonl"
        self.secret_file = self.root / "airbyte_secret"
        self.write_secret(self.sandbox.client_secret)

    def write_secret(self, value: str) -> None:
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        os.chmod(self.secret_file, 0o600)

    @property
    def warehouse(self) -> Path:
        return self.sandbox.world.resolve_path("warehouse.duckdb")

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def write(
        self,
        steps: list[dict[str, Any]] | None = None,
        *,
        url: str | None = None,
        client_secret: str | None = None,
        poll: str = "1s",
        warehouse: bool = True,
        airbyte: dict[str, Any] | None = None,
    ) -> Path:
        """Write the pipeline file (JSON is YAML) and return its path. ``warehouse=False``
        leaves the warehouse out (syncs only); ``airbyte`` adds keys to that section."""
        doc: dict[str, Any] = {
            "version": 1,
            "airbyte": {
                "url": url or self.sandbox.url,
                "auth": {
                    "type": "client_credentials",
                    "client_id": self.sandbox.client_id,
                    "client_secret": client_secret or f"file:{self.secret_file}",
                },
                **(airbyte or {}),
            },
            "state_dir": "state",
            "poll": {"interval": poll},
            "owners": {"data-platform": {"alerts": [f"jsonl:{self.alerts}"]}},
            "pipelines": {
                self.pipeline_name: {
                    "owner": "data-platform",
                    "steps": steps if steps is not None else default_steps(),
                }
            },
        }
        if warehouse:
            doc["warehouses"] = {"main": {"url": f"duckdb:///{self.warehouse}"}}
        self.path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        return self.path

    def argv(self, *args: str, date: str | None = DATE) -> list[str]:
        cmd = [CLI, "run", str(self.path), *args]
        if date is not None and "--date" not in args:
            cmd += ["--date", date]
        return cmd

    def run(
        self, *args: str, date: str | None = DATE, timeout: float = 120, **env: str
    ) -> RunResult:
        """Run ``luigi-airbyte run`` to completion in a subprocess."""
        proc = subprocess.run(
            self.argv(*args, date=date),
            cwd=self.root,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return RunResult(proc.returncode, proc.stdout, proc.stderr)

    def cli(self, *args: str, timeout: float = 120) -> RunResult:
        """Run any other ``luigi-airbyte`` command in the project's folder, to completion."""
        proc = subprocess.run(
            [CLI, *args],
            cwd=self.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return RunResult(proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str, date: str | None = DATE, **env: str) -> subprocess.Popen[str]:
        """Start ``luigi-airbyte run`` in its own session (so a kill reaches its children)."""
        return subprocess.Popen(
            self.argv(*args, date=date),
            cwd=self.root,
            env=clean_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def alert_lines(self) -> list[dict[str, Any]]:
        if not self.alerts.exists():
            return []
        lines = self.alerts.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> RunResult:
    """Wait for a started run and collect its output."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        raise AssertionError(f"run did not finish in {timeout}s\n{out}\n{err}") from None
    return RunResult(proc.returncode, out, err)


def configure_webhooks(project: Project, **env: str) -> dict[str, str]:
    """``webhook configure`` the sandbox's workspace to push to a free loopback port; the
    environment a run then needs to listen there."""
    hooks = {"LUIGI_AIRBYTE_WEBHOOK__LISTEN": f"127.0.0.1:{free_port()}", **env}
    configured = cli(project, "webhook", "configure", str(project.path), **hooks)
    assert configured.returncode == 0, configured.stderr
    return hooks


def cli(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``luigi-airbyte ARGS`` in the project's folder, with only ``env`` of our settings."""
    return subprocess.run(
        [CLI, *args],
        cwd=project.root,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def connection_id(sandbox: Sandbox, name: str) -> str:
    conn = next(c for c in sandbox.world.connections if c.name == name)
    return sandbox.world.connection_id(conn)


def jobs_for(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    """Every job of a connection, as ``GET /jobs`` lists them."""
    return sandbox.engine.list_jobs(connection_id=connection_id(sandbox, name))


def job_posts(sandbox: Sandbox) -> int:
    """How many ``POST /jobs`` the sandbox received."""
    return len(sandbox.requests("/jobs", method="POST"))


def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; fail (not hang) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
