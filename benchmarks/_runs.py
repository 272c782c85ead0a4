"""Shared by scale.py and freshness.py: a world of N cheap connections, a pipeline file,
``luigi-airbyte run`` in a subprocess, and the floor: the same graph shape built from
plain Luigi tasks (each sleeps as long as a sync takes, or is already complete)."""

from __future__ import annotations

import compileall
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"


def world(n: int, job_seconds: float) -> dict[str, Any]:
    return {
        "workspaces": [{"name": "bench"}],
        "sources": [
            {
                "name": "gen",
                "type": "generator",
                "streams": [{"name": "rows", "size": 1, "growth_per_sync": 0, "seed": 1}],
            }
        ],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": f"conn-{i:04d}",
                "source": "gen",
                "destination": "wh",
                "streams": [],
                "job_duration_seconds": job_seconds,
            }
            for i in range(n)
        ],
        "applications": [{"name": "bench", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
        "settings": {"max_concurrent_jobs": 1000, "max_attempts": 1},
    }


def write_pipeline(
    root: Path,
    url: str,
    n: int,
    *,
    freshness: str | None = None,
    max_syncs: int = 100,
    each: bool = False,
) -> Path:
    """N sync steps, or with ``each`` one ``sync_each`` step selecting the N connections."""
    extra = {"freshness": freshness} if freshness else {}
    steps = (
        [{"sync_each": "all", "select": {"name": "conn-*"}, **extra}]
        if each
        else [{"sync": f"s{i:04d}", "connection": f"conn-{i:04d}", **extra} for i in range(n)]
    )
    doc = {
        "version": 1,
        "airbyte": {
            "url": url,
            "auth": {
                "type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": "env:BENCH_CLIENT_SECRET",
            },
            "max_concurrent_syncs": max_syncs,
        },
        "state_dir": "state",
        "poll": {"interval": "1s"},
        "owners": {"data": {"alerts": [f"jsonl:{root / 'alerts.jsonl'}"]}},
        "pipelines": {
            "bench": {
                "owner": "data",
                "steps": steps,
            }
        },
    }
    path = root / "pipeline.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("LUIGI_AIRBYTE_")}
    out.pop("LUIGI_CONFIG_PATH", None)
    out["BENCH_CLIENT_SECRET"] = CLIENT_SECRET
    return out


@functools.cache
def compile_package() -> None:
    """Byte-compile luigi_airbyte once, as ``pip install`` does for an installed package.

    The floor's Luigi comes from site-packages, compiled at install; without this a source
    checkout run with ``PYTHONDONTWRITEBYTECODE`` (as this machine's shells set it) would
    recompile our ~160 modules in every measured run (~0.2 s of a fresh run of 1,000).
    """
    import luigi_airbyte

    compileall.compile_dir(Path(luigi_airbyte.__file__).parent, quiet=1)


def run_cli(
    path: Path,
    workers: int,
    scheduler_url: str | None,
    date: str,
    timeout: float = 3600,
    extra_env: dict[str, str] | None = None,
) -> float:
    compile_package()
    argv = [str(BIN / "luigi-airbyte"), "run", str(path), "--workers", str(workers)]
    argv += ["--date", date, "--skip-preflight", "--json"]
    if scheduler_url:
        argv += ["--scheduler-url", scheduler_url]
    t0 = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=path.parent,
        env={**env(), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"luigi-airbyte run exited {done.returncode}")
    return seconds


# The third-party libraries a run must have imported before its first sync can start: the
# store (SQLAlchemy, with the SQLite dialect of the default store), the pipeline file's
# parser and models (ruamel.yaml, pydantic), the Airbyte client (httpx) and the command line
# (click). ``run_floor(..., preload=RUN_DEPS)`` is the floor plus only those imports: what
# any implementation on these libraries pays before our own code does anything.
RUN_DEPS = ("sqlalchemy", "sqlalchemy.dialects.sqlite", "pydantic", "httpx", "click", "ruamel.yaml")

FLOOR = """
import os, sys, tempfile, time, importlib
for name in sys.argv[7].split(",") if sys.argv[7] != "-" else []:
    importlib.import_module(name)
import luigi
n, workers, seconds, done, url, tag = sys.argv[1:7]
n, workers, seconds, done = int(n), int(workers), float(seconds), done == "1"
marks = tempfile.mkdtemp(prefix="floor-")
class Step(luigi.Task):
    i = luigi.IntParameter()
    tag = luigi.Parameter()
    def output(self):
        return luigi.LocalTarget(os.path.join(marks, str(self.i)))
    def complete(self):
        return done or self.output().exists()
    def run(self):
        time.sleep(seconds)
        with self.output().open("w") as fh:
            fh.write("done")
class All(luigi.WrapperTask):
    tag = luigi.Parameter()
    def requires(self):
        return [Step(i=i, tag=self.tag) for i in range(n)]
kw = {"scheduler_url": url, "local_scheduler": False} if url != "-" else {"local_scheduler": True}
luigi.configuration.get_config().set("core", "no_configure_logging", "true")
ok = luigi.build([All(tag=tag)], workers=workers, **kw)
sys.exit(0 if ok else 1)
"""


def run_floor(
    n: int,
    workers: int,
    seconds: float,
    scheduler_url: str | None,
    *,
    done: bool = False,
    preload: tuple[str, ...] = (),
) -> float:
    """Wall seconds of the floor; ``preload`` names modules it imports before Luigi."""
    argv = [sys.executable, "-c", FLOOR, str(n), str(workers), str(seconds)]
    argv += ["1" if done else "0", scheduler_url or "-", f"t{time.time_ns()}"]
    argv += [",".join(preload) or "-"]
    t0 = time.perf_counter()
    subprocess.run(argv, env=env(), capture_output=True, check=True, timeout=3600)
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def luigid() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-luigid-") as home:
        port = free_port()
        # docs/luigi.md: declare the Airbyte resource, or luigid runs one sync at a time.
        Path(home, "luigi.cfg").write_text("[resources]\nairbyte = 100\n", encoding="utf-8")
        proc = subprocess.Popen(
            [
                str(BIN / "luigid"),
                *("--address", "127.0.0.1", "--port", str(port)),
                *("--state-path", f"{home}/state.pickle", "--logdir", home),
            ],
            cwd=home,
            env={**env(), "LUIGI_CONFIG_PATH": f"{home}/luigi.cfg"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5),
                ):
                    break
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
