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
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
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


def _names(requirements: str | Sequence[str]) -> list[str]:
    reqs = [requirements] if isinstance(requirements, str) else list(requirements)
    reqs = [r.strip() for r in reqs if r.strip()]
    if not reqs:
        raise ConnectorEnvError("no pip requirement given")
    return reqs


def describe(requirements: str | Sequence[str], overrides: Sequence[str] = ()) -> str:
    """One line naming what an environment holds, e.g. for ``connectors list``."""
    text = " ".join(_names(requirements))
    return text + (f" (overrides: {', '.join(overrides)})" if overrides else "")


def env_for(
    requirements: str | Sequence[str], overrides: Sequence[str] = (), root: Path | None = None
) -> ConnectorEnv:
    reqs = _names(requirements)
    name = env_name(reqs[0])
    if len(reqs) > 1 or overrides:  # the same main package, other extras: another folder
        digest = hashlib.sha1(json.dumps([reqs, list(overrides)]).encode()).hexdigest()[:8]
        name = f"{name}-{digest}"
    return ConnectorEnv(describe(reqs, overrides), (root or cache_root()) / name)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: list[str], what: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        tail = "\n".join([ln for ln in lines if "is ignored: it is neither" not in ln][-15:])
        raise ConnectorEnvError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _project(requirement: str) -> str:
    """The normalized project name of a requirement: ``Smart_Open[all]>=7`` -> ``smart-open``."""
    m = _NAME.match(requirement)
    if not m:
        raise ConnectorEnvError(f"{requirement!r} is not a pip requirement")
    return re.sub(r"[-_.]+", "-", m.group(1)).lower()


_REQUIRES = (
    "import importlib.metadata as m, sys\n"
    "for r in m.requires(sys.argv[1]) or []:\n"
    "    if 'extra ==' not in r.replace('extra==', 'extra =='):\n"
    "        print(r)\n"
)


def _pip_install(python: Path, reqs: list[str], overrides: Sequence[str]) -> None:
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if not overrides:
        _run([*pip, *reqs], f"pip install {' '.join(reqs)}")
        return
    # pip cannot override a dependency's pin: install the connector without its
    # dependencies, then its direct dependencies with the overridden ones replaced.
    _run([*pip, "--no-deps", reqs[0]], f"pip install --no-deps {reqs[0]}")
    by_name = {_project(o): o for o in overrides}
    deps = _run([str(python), "-c", _REQUIRES, _project(reqs[0])], "reading dependencies")
    wanted = [by_name.get(_project(d), d) for d in deps.splitlines() if d.strip()]
    wanted += [o for o in overrides if o not in wanted] + reqs[1:]
    _run([*pip, *wanted], f"pip install the dependencies of {reqs[0]}")


def ensure_env(
    requirements: str | Sequence[str],
    overrides: Sequence[str] = (),
    *,
    root: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> ConnectorEnv:
    """The ready environment of ``requirements``, building it first if needed (locked).

    ``overrides`` replace the connector's own pins of the same projects (for a connector
    whose published metadata cannot be installed as it is).
    """
    reqs = _names(requirements)
    env = env_for(reqs, overrides, root)
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
            log(f"building connector environment {env.path} ({env.requirement}, {tool})")
        started = time.monotonic()
        python = env.bin_dir / "python"
        try:
            if uv:
                _run([uv, "venv", "--quiet", "--python", sys.executable, str(env.path)], "uv venv")
                extra: list[str] = []
                if overrides:
                    env.path.mkdir(parents=True, exist_ok=True)
                    (env.path / "overrides.txt").write_text("\n".join(overrides) + "\n")
                    extra = ["--override", str(env.path / "overrides.txt")]
                _run(
                    [uv, "pip", "install", "--quiet", "--python", str(python), *extra, *reqs],
                    f"uv pip install {' '.join(reqs)}",
                )
            else:
                _run([sys.executable, "-m", "venv", str(env.path)], "python -m venv")
                _pip_install(python, reqs, overrides)
        except BaseException:
            shutil.rmtree(env.path, ignore_errors=True)
            raise
        seconds = round(time.monotonic() - started, 1)
        marker = {
            "requirement": env.requirement,
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
