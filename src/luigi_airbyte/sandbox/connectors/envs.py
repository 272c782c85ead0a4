"""Connector environments: one virtualenv per pip requirement, built once per machine.

Each Airbyte connector pins its own ``airbyte-cdk``, so each gets its own virtualenv under
the cache folder (``$LUIGI_AIRBYTE_CONNECTORS_DIR``, else
``$XDG_CACHE_HOME/luigi-airbyte/connectors``, else ``~/.cache/luigi-airbyte/connectors``).
An environment is built on first use with ``uv`` when it is on PATH and with ``venv`` + pip
otherwise; both use the package index the machine is configured for (pip's own config).
A file lock (``fcntl.flock``) makes a second process wait for the first one's build and then
reuse it; a ``.ready`` marker written last means a half-built environment is rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luigi_airbyte.sandbox.errors import SandboxError

CACHE_ENV_VAR = "LUIGI_AIRBYTE_CONNECTORS_DIR"
READY = ".ready"


class ConnectorEnvError(SandboxError):
    """A connector environment cannot be built."""


def cache_root() -> Path:
    """Where connector environments live (see the module docstring)."""
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "luigi-airbyte" / "connectors"


def env_name(requirement: str) -> str:
    """Folder of a requirement: ``pkg==1.2`` -> ``pkg-1.2``."""
    name = re.sub(r"[^A-Za-z0-9._]+", "-", requirement.strip()).strip("-.")
    if not name:
        raise ConnectorEnvError(f"{requirement!r} is not a pip requirement")
    return name


@dataclass(frozen=True)
class ConnectorEnv:
    requirement: str
    path: Path

    @property
    def ready(self) -> bool:
        return (self.path / READY).is_file()

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    def executable(self, connector: str) -> Path:
        """The connector's console script (``source-faker``) in this environment."""
        exe = self.bin_dir / connector
        if not exe.exists():
            found = sorted(p.name for p in self.bin_dir.glob("source-*"))
            raise ConnectorEnvError(
                f"{self.requirement}: no command {connector!r} in {self.bin_dir} "
                f"(fix: set connector to one of {found or ['<none installed>']})"
            )
        return exe

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = {"requirement": self.requirement, "path": str(self.path)}
        if self.ready:
            with contextlib.suppress(OSError, ValueError):
                data.update(json.loads((self.path / READY).read_text(encoding="utf-8")))
        data["ready"] = self.ready
        return data


def env_for(requirement: str, root: Path | None = None) -> ConnectorEnv:
    return ConnectorEnv(requirement.strip(), (root or cache_root()) / env_name(requirement))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ConnectorEnvError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def ensure_env(
    requirement: str,
    *,
    root: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> ConnectorEnv:
    """The ready environment of ``requirement``, building it first if needed (locked)."""
    env = env_for(requirement, root)
    if env.ready:
        return env
    with _locked(env.path.with_name(env.path.name + ".lock")):
        if env.ready:  # another process built it while this one waited
            return env
        if env.path.exists():
            shutil.rmtree(env.path)  # a build that died half-way
        uv = shutil.which("uv")
        tool = "uv" if uv else "venv+pip"
        if log is not None:
            log(f"building connector environment {env.path} ({requirement}, {tool})")
        started = time.monotonic()
        python = env.bin_dir / "python"
        try:
            if uv:
                _run([uv, "venv", "--quiet", "--python", sys.executable, str(env.path)], "uv venv")
                _run(
                    [uv, "pip", "install", "--quiet", "--python", str(python), requirement],
                    f"uv pip install {requirement}",
                )
            else:
                _run([sys.executable, "-m", "venv", str(env.path)], "python -m venv")
                _run(
                    [str(python), "-m", "pip", "install", "--quiet", requirement],
                    f"pip install {requirement}",
                )
        except BaseException:
            shutil.rmtree(env.path, ignore_errors=True)
            raise
        seconds = round(time.monotonic() - started, 1)
        marker = {
            "requirement": requirement,
            "tool": tool,
            "build_seconds": seconds,
            "built_at": int(time.time()),
        }
        (env.path / READY).write_text(json.dumps(marker), encoding="utf-8")
        if log is not None:
            log(f"built {env.path} in {seconds} s")
    return env


def list_envs(root: Path | None = None) -> list[ConnectorEnv]:
    """Every environment in the cache folder (ready or not), by name."""
    base = root or cache_root()
    if not base.is_dir():
        return []
    out = []
    for p in sorted(base.iterdir()):
        if p.is_dir():
            req = p.name
            with contextlib.suppress(OSError, ValueError):
                req = json.loads((p / READY).read_text(encoding="utf-8")).get("requirement", req)
            out.append(ConnectorEnv(req, p))
    return out
