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
import sqlite3
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


def task_process_of(pid: int, state_dir: Path, connection_id: str) -> psutil.Process | None:
    """The process of the run ``pid`` running the sync of ``connection_id``: the child
    whose pid the store's claim on that connection's run key names (with ``--workers`` > 1
    a sync runs in a warm slot or a forked task process, never in the run process); else
    ``None`` while nobody holds it."""
    db = state_dir / "metadata.db"
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            rows = conn.execute(
                "SELECT holder_pid FROM sync_claims WHERE connection_id = ? "
                "AND holder_pid IS NOT NULL",
                (connection_id,),
            ).fetchall()
    except sqlite3.OperationalError:  # the run has not created the table yet
        return None
    children = {c.pid: c for c in psutil.Process(pid).children()}
    found = [children[r[0]] for r in rows if r[0] in children]
    return found[0] if len(found) == 1 else None
