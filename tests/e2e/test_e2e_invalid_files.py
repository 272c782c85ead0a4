"""Every invalid pipeline file exits 3, names the file and the problem, contacts nothing.

The files and their ``# expect:`` headers are shared with tests/pipeline. Each is run
with ``--url`` pointing at a live sandbox, so a run that got past validation would show
up in the sandbox's request log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2e.e2e_helpers import CLI, clean_env
from luigi_airbyte.cli.app import cli
from luigi_airbyte.cli.run_cmd import run_command  # noqa: F401  (registers `run`)
from luigi_airbyte.sandbox import Sandbox, demo_world

INVALID = Path(__file__).resolve().parents[1] / "pipeline" / "invalid"
FILES = sorted(INVALID.glob("*.yaml"))
_EXPECT = re.compile(rb"^# expect: (.*)$", re.MULTILINE)


def _expected(path: Path) -> str:
    match = _EXPECT.search(path.read_bytes())
    assert match, f"{path.name} has no '# expect:' header"
    return match.group(1).decode("utf-8").strip()


@pytest.fixture(scope="module")
def module_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(demo_world(tmp_path_factory.mktemp("invalid-sandbox"))) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(module_sandbox: Sandbox) -> Sandbox:
    module_sandbox.clear_requests()
    return module_sandbox


@pytest.fixture
def runner(isolated_cwd: Path) -> Iterator[CliRunner]:
    """A CliRunner; the CLI reconfigures logging, so put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield CliRunner()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_all_invalid_files_are_covered() -> None:
    assert len(FILES) >= 49


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_invalid_file_exits_3_without_contacting_airbyte(
    path: Path, sandbox: Sandbox, runner: CliRunner
) -> None:
    result = runner.invoke(cli, ["run", str(path), "--url", sandbox.url])

    assert result.exit_code == 3, result.output
    assert str(path) in result.stderr
    assert _expected(path) in result.stderr, result.stderr
    assert sandbox.requests() == [], "validation must fail before anything is contacted"


def test_json_error_document(sandbox: Sandbox, runner: CliRunner) -> None:
    path = INVALID / "cycle.yaml"

    result = runner.invoke(cli, ["run", str(path), "--url", sandbox.url, "--json"])

    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    error = doc["error"]
    assert set(error) >= {"type", "message", "exit_code", "problems"}
    assert error["type"] == "ConfigError"
    assert error["exit_code"] == 3
    assert _expected(path) in error["message"]
    assert error["problems"], error
    for problem in error["problems"]:
        assert set(problem) == {"source", "line", "field", "message", "fix"}
        assert problem["source"] == str(path)
    assert any(_expected(path) in p["message"] for p in error["problems"])
    assert sandbox.requests() == []


@pytest.mark.parametrize("name", ["literal_client_secret.yaml", "yaml_syntax_error.yaml"])
def test_invalid_file_through_the_real_entry_point(
    name: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = INVALID / name

    proc = subprocess.run(
        [CLI, "run", str(path), "--url", sandbox.url],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 3, proc.stderr
    assert str(path) in proc.stderr
    assert _expected(path) in proc.stderr
    assert proc.stdout == ""
    assert sandbox.requests() == []
    assert not (tmp_path / ".luigi-airbyte").exists(), "no state is written for a bad file"


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_not_a_regular_file_exits_3_at_once(
    kind: str, command: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    """A directory, FIFO or device is a bad pipeline file (exit 3), not a usage error, and a
    FIFO with no writer must not hang the command."""
    if kind == "directory":
        path, expect = tmp_path / "pipelines", "is a directory"
        path.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("needs FIFOs")
        path, expect = tmp_path / "pipeline.yaml", "is a named pipe (FIFO)"
        os.mkfifo(path)
    else:
        path, expect = Path("/dev/zero"), "is a character device"
        if not path.exists():
            pytest.skip("needs /dev/zero")
    args = [CLI, command, str(path)] + (["--url", sandbox.url] if command == "run" else [])
    work = tmp_path / "cwd"
    work.mkdir()

    proc = subprocess.run(
        args, cwd=work, env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )

    assert proc.returncode == 3, proc.stderr
    assert str(path) in proc.stderr and expect in proc.stderr, proc.stderr
    assert sandbox.requests() == []
    assert not (work / ".luigi-airbyte").exists()
