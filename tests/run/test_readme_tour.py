"""Every command of README's "five-minute tour" runs as written against the quickstart.

The commands are read from README.md (its ```sh blocks and inline `luigi-airbyte ...`
spans in the tour section) and run, one by one, in a project written by the
quickstart (`write_world`, `write_project`) whose sandbox Airbyte is running in this
process. They are run as written, through the installed entry points, with three
adaptations a reader makes too:

* ``<run-id>`` is a run id that ``history`` printed;
* the quickstart's pipeline is called ``nightly`` here, the name README's file uses;
* luigid listens on a free port instead of 8082 (tests never bind fixed ports): the
  README's ``--scheduler-url http://localhost:8082`` gets that port, and ``luigi``
  finds it through ``[core] default_scheduler_port`` in its config, as a ``luigi``
  command line without ``--scheduler-port`` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from luigi_airbyte.cli.quickstart_cmd import write_project, write_world
from luigi_airbyte.sandbox import Sandbox, load_world

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_INLINE = re.compile(r"`(luigi-airbyte [^`]+)`")


def tour_commands(readme: str) -> list[str]:
    """The tour's shell commands in README order: inline `luigi-airbyte ...` in the prose
    and every line of its ```sh blocks (comments dropped, ``\\`` continuations joined)."""
    start = readme.index("## A five-minute tour")
    section = readme[start : readme.index("\n## ", start + 1)]
    commands: list[str] = []
    for i, part in enumerate(section.split("```")):
        if i % 2 == 0:
            # prose also names a command without running it ("two `luigi-airbyte run`
            # processes"): a bare `luigi-airbyte run` has no file and is not an invocation
            commands += [c for c in _INLINE.findall(part) if c != "luigi-airbyte run"]
        elif part.startswith("sh\n"):
            for line in part[3:].replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words:
                    background = " &" if line.rstrip().endswith("&") else ""
                    commands.append(shlex.join(w for w in words if w != "&") + background)
    return commands


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LUIGI_AIRBYTE_") and k not in ("LUIGI_CONFIG_PATH", "COLUMNS")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[tuple[Path, Sandbox]]:
    """The quickstart's project and sandbox (as `luigi-airbyte quickstart` sets them up)."""
    directory = tmp_path / "quickstart"
    with Sandbox(load_world(write_world(directory))) as sandbox:
        pipeline = write_project(directory, sandbox)
        text = pipeline.read_text(encoding="utf-8")
        pipeline.write_text(text.replace("\n  demo:\n", "\n  nightly:\n"), encoding="utf-8")
        yield directory, sandbox


def test_the_tour_has_the_commands_we_expect() -> None:
    commands = tour_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    programs = [c.split()[0] for c in commands]
    assert programs.count("luigi-airbyte") >= 9 and "luigid" in programs and "luigi" in programs


@pytest.mark.slow
@pytest.mark.luigid
def test_every_tour_command_runs_as_written(quickstart: tuple[Path, Sandbox]) -> None:
    directory, sandbox = quickstart
    commands = tour_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    port = _free_port()
    cfg = directory / "luigi-client.cfg"
    cfg.write_text(
        f"[core]\ndefault_scheduler_port = {port}\n"
        f"[scheduler]\nstate_path = {directory / 'luigid-state.pickle'}\n",
        encoding="utf-8",
    )
    env = _env(LUIGI_CONFIG_PATH=str(cfg))
    background: list[subprocess.Popen[bytes]] = []
    ran: list[str] = []
    try:
        for command in commands:
            command = command.replace("8082", str(port))
            if "<run-id>" in command:
                runs = json.loads(
                    _run("luigi-airbyte history -f pipeline.yaml --json", directory, env)
                )
                command = command.replace("<run-id>", runs["runs"][0]["run_id"])
            if command.endswith(" &"):
                argv = shlex.split(command[:-2])
                background.append(
                    subprocess.Popen(
                        [str(BIN / argv[0]), *argv[1:]],
                        cwd=directory,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
                _wait_for_luigid(port)
                ran.append(command)
                continue
            output = _run(command, directory, env)
            if command.startswith("luigi "):
                assert "This progress looks :)" in output, f"{command}\n{output}"
            ran.append(command)
    finally:
        for proc in background:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    assert len(ran) == len(commands)
    assert sandbox.requests("/jobs", method="POST"), "the tour synced something"


def _run(command: str, cwd: Path, env: dict[str, str]) -> str:
    argv = shlex.split(command)
    proc = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{command}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _wait_for_luigid(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.head(f"http://127.0.0.1:{port}/", timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise AssertionError(f"luigid did not answer on port {port}")
