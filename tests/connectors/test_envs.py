"""Connector environments: built once under a lock, reused, rebuilt when half-built."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from luigi_airbyte.sandbox.connectors import envs

pytestmark = pytest.mark.connectors


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the slow commands by a recorder; `venv` creates the folder, slowly."""
    calls: list[list[str]] = []

    def run(argv: list[str], what: str) -> str:
        calls.append(argv)
        if argv[1:3] == ["-m", "venv"]:
            time.sleep(0.3)  # long enough for a second builder to arrive meanwhile
            (Path(argv[3]) / "bin").mkdir(parents=True)
        return ""

    monkeypatch.setattr(envs, "_run", run)
    monkeypatch.setattr(envs.shutil, "which", lambda name: None)  # no uv: venv + pip
    return calls


def test_two_builders_at_once_build_the_environment_once(
    tmp_path: Path, fake_build: list[list[str]]
) -> None:
    results: list[envs.ConnectorEnv] = []
    threads = [
        threading.Thread(target=lambda: results.append(envs.ensure_env("pkg==1.0", root=tmp_path)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    venvs = [c for c in fake_build if c[1:3] == ["-m", "venv"]]
    assert len(venvs) == 1, fake_build
    assert [r.path for r in results] == [tmp_path / "pkg-1.0"] * 3
    assert all(r.ready for r in results)
    assert any(c[-1] == "pkg==1.0" and "pip" in c for c in fake_build)


def test_a_half_built_environment_is_rebuilt(tmp_path: Path, fake_build: list[list[str]]) -> None:
    half = tmp_path / "pkg-1.0"
    (half / "bin").mkdir(parents=True)  # a build that died: no .ready marker
    env = envs.ensure_env("pkg==1.0", root=tmp_path)
    assert env.ready
    assert len([c for c in fake_build if c[1:3] == ["-m", "venv"]]) == 1
    envs.ensure_env("pkg==1.0", root=tmp_path)  # ready now: nothing runs
    assert len([c for c in fake_build if c[1:3] == ["-m", "venv"]]) == 1


def test_overrides_install_the_connector_without_its_pins(
    tmp_path: Path, fake_build: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_build

    def run(argv: list[str], what: str) -> str:
        calls.append(argv)
        if argv[1:3] == ["-m", "venv"]:
            (Path(argv[3]) / "bin").mkdir(parents=True)
        if argv[1] == "-c":  # the connector's own dependencies
            return "cdk (>=7)\nsmart-open[all] (==0.6.0)\n"
        return ""

    monkeypatch.setattr(envs, "_run", run)
    env = envs.ensure_env(["src==0.6.0", "azure"], ["Smart_Open>=6.3"], root=tmp_path)
    assert env.ready and env.path.name.startswith("src-0.6.0-")
    installs = [c[c.index("--quiet") + 1 :] for c in calls if "install" in c]
    assert installs == [["--no-deps", "src==0.6.0"], ["cdk (>=7)", "Smart_Open>=6.3", "azure"]]


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUIGI_AIRBYTE_CONNECTORS_DIR", "/x/conn")
    assert envs.cache_root() == Path("/x/conn")
    monkeypatch.delenv("LUIGI_AIRBYTE_CONNECTORS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/cache")
    assert envs.cache_root() == Path("/x/cache/luigi-airbyte/connectors")


def test_cli_installs_then_lists_environments(
    tmp_path: Path, fake_build: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from luigi_airbyte.cli.app import cli

    monkeypatch.setenv("LUIGI_AIRBYTE_CONNECTORS_DIR", str(tmp_path))
    runner = CliRunner()
    empty = runner.invoke(cli, ["sandbox", "connectors", "list"])
    assert empty.exit_code == 0 and "no connector environments yet" in empty.output

    world = tmp_path / "world.yaml"
    world.write_text(
        "workspaces: [{name: ws}]\n"
        "sources: [{name: f, type: airbyte, connector: source-faker, pip: pkg==2.0}]\n"
    )
    done = runner.invoke(
        cli, ["sandbox", "connectors", "install", "pkg==1.0", "--world", str(world)]
    )
    assert done.exit_code == 0, done.output
    assert f"pkg==1.0: ready in {tmp_path / 'pkg-1.0'}" in done.output
    assert f"pkg==2.0: ready in {tmp_path / 'pkg-2.0'}" in done.output

    listed = runner.invoke(cli, ["sandbox", "connectors", "list", "--json"])
    infos = [json.loads(line) for line in listed.output.splitlines()]
    assert [(i["requirement"], i["ready"], i["tool"]) for i in infos] == [
        ("pkg==1.0", True, "venv+pip"),
        ("pkg==2.0", True, "venv+pip"),
    ]
    assert runner.invoke(cli, ["sandbox", "connectors", "install"]).exit_code == 2
