"""A real luigid for the end-to-end tests, configured with the block of docs/luigi.md;
and the task processes of a run, to kill one.

The tests read the ready-to-copy ``luigi.cfg`` block from the doc itself, so what the doc
tells users to set is what the tests run; only the delays are shortened (``fast``) so a
dead worker is noticed in seconds.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from e2e.e2e_helpers import VENV_BIN, clean_env, free_port, wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "luigi.md"
FAST = {"worker_disconnect_delay": "3", "retry_delay": "1"}


def documented_luigid_config() -> configparser.ConfigParser:
    """The ready-to-copy luigi.cfg block of docs/luigi.md (after ``<!-- luigid-settings``)."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- luigid-settings:[^>]*-->\s*```ini\n(.*?)```", text, re.S)
    assert match, "docs/luigi.md lost its luigid-settings block"
    cfg = configparser.ConfigParser(inline_comment_prefixes=("#",))
    cfg.read_string(match.group(1))
    return cfg


@contextlib.contextmanager
def running_luigid(home: Path, overrides: dict[str, str] | None = None) -> Iterator[str]:
    """luigid on a free loopback port with the documented settings and a temp state path;
    ``overrides`` replace ``[scheduler]`` values the doc sets. Yields its URL."""
    cfg = documented_luigid_config()
    for key, value in (overrides or {}).items():
        assert cfg.has_option("scheduler", key), f"docs/luigi.md does not set {key}"
        cfg["scheduler"][key] = value
    with (home / "luigi.cfg").open("w", encoding="utf-8") as fh:
        cfg.write(fh)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "luigid"),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-path",
            str(home / "state.pickle"),
            "--logdir",
            str(home),
        ],
        cwd=home,
        env=clean_env(LUIGI_CONFIG_PATH=str(home / "luigi.cfg")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, f"luigid exited with {proc.returncode}"
        try:
            return httpx.head(f"{url}/", timeout=1).status_code == 204
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=30, what="luigid to answer HEAD /")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def only_task_process(pid: int) -> psutil.Process | None:
    """The one live task process of the run ``pid`` (Luigi forks one per running task when
    ``--workers`` > 1), once its other tasks have ended; else ``None``."""
    alive = []
    for child in psutil.Process(pid).children():
        try:
            if child.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive[0] if len(alive) == 1 else None
