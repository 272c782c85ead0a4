"""The installed ``luigi-airbyte`` script, and ``sandbox serve`` as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from luigi_airbyte.sandbox import load_world
from luigi_airbyte.sandbox.example import EXAMPLE_WORLD_YAML

CLI = str(Path(sys.executable).parent / "luigi-airbyte")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LUIGI_AIRBYTE_")}


def test_entry_point_help() -> None:
    done = subprocess.run(
        [CLI, "--help"], capture_output=True, text=True, timeout=60, env=_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: luigi-airbyte [OPTIONS] COMMAND [ARGS]...")
    for command in ("validate", "sync", "jobs", "history", "show", "sandbox", "credentials"):
        assert f"  {command} " in done.stdout


def test_sandbox_serve_prints_a_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text(EXAMPLE_WORLD_YAML, encoding="utf-8")
    proc = subprocess.Popen(
        [CLI, "sandbox", "serve", "--world", str(world), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["client_id"] == "sandbox-client"
        token = httpx.post(
            f"{info['url']}/applications/token",
            json={"client_id": "sandbox-client", "client_secret": "sandbox-secret"},
            timeout=10,
        )
        assert token.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sandbox_serve_bad_world_exits_3(invoke, tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text("connections: [{name: c, source: nowhere, destination: nothing}]\n")
    result = invoke("sandbox", "serve", "--world", str(world), "--port", "0")
    assert result.exit_code == 3
    assert f"{world}: connections[0]" in result.stderr


def test_world_example_is_a_valid_world(invoke, tmp_path: Path) -> None:
    result = invoke("sandbox", "world-example")
    assert result.exit_code == 0
    assert result.stdout == EXAMPLE_WORLD_YAML
    path = tmp_path / "world.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    world = load_world(path)
    assert [c.name for c in world.connections] == ["Postgres CRM → Warehouse"]
