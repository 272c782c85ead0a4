"""``run --reload``: exactly one refresh per rejected load, whoever asks and however often.

The refresh is claimed under ``refresh:<connection>:<rejected job id>`` in the same
ledger as syncs, so two reload commands at once, or a re-run after a kill -9 at the
moment its create intent is committed (or its POST answered), make one refresh job
between them; the counts are Airbyte's own, read from the sandbox.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from e2e.e2e_helpers import CRM, EVENTS, clean_env, wait_for
from e2e.luigid_helpers import FAST, running_luigid
from e2e.test_e2e_two_am import Night, _by_type, _judge, night  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.dbt]


def _bad_load(night: Night) -> list[str]:  # noqa: F811 - the fixture's name
    """The 2 a.m. duplicates failure; returns the printed recovery command."""
    night.set_faults({"jobs": {CRM: {"fail_attempts": 1, "duplicate_on_retry": True}}})
    first = night.run()
    command = _judge(night, first, code=6, posts=2, cause="crm:counts")
    assert "--reload" in command
    night.set_faults({"jobs": {}})
    return command


def _start(night: Night, command: list[str], **env: str) -> subprocess.Popen[str]:  # noqa: F811
    return subprocess.Popen(
        command,
        cwd=night.root,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, to kill -9 it whole
    )


ONE_REFRESH = {CRM: {"sync": 1, "refresh": 1}, EVENTS: {"sync": 1}}


def test_two_reload_commands_at_once_make_one_refresh(night: Night) -> None:  # noqa: F811
    command = _bad_load(night)

    procs = [_start(night, command), _start(night, command)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]

    # Both go through the sync step; the two runs' dbt on one DuckDB project may collide
    # (seen: dbt exits 2, step exit 7), which is not the refresh's business: a plain run
    # finishes it.
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and codes[1] in (0, 7), outputs
    assert _by_type(night) == ONE_REFRESH, outputs
    for output in outputs:  # each attached to the one refresh, or found it done; no sync
        assert "replacing rejected job" in output or "already synced this date" in output, output
    assert night.run().returncode == 0
    assert _by_type(night) == ONE_REFRESH


@pytest.mark.parametrize("boundary", ["intent", "posted"])
def test_kill_9_at_the_refresh_boundary_then_reload_again(
    night: Night,  # noqa: F811
    boundary: str,
    tmp_path: Path,
) -> None:
    command = _bad_load(night)
    marker = tmp_path / "paused"
    killed = _start(
        night,
        command,
        LUIGI_AIRBYTE_TEST_PAUSE_AT=boundary,
        LUIGI_AIRBYTE_TEST_PAUSE_FILE=str(marker),
    )
    try:
        wait_for(marker.exists, timeout=120, what=f"the reload to pause at {boundary!r}")
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL

    again = night.command(command)

    assert again.returncode == 0, again.stdout
    assert _by_type(night) == ONE_REFRESH  # the re-run attached; no second refresh
    assert night.run().returncode == 0
    assert _by_type(night) == ONE_REFRESH


@pytest.mark.parametrize("scheduler", ["local", pytest.param("luigid", marks=pytest.mark.luigid)])
def test_a_failed_refresh_is_not_posted_again_in_the_same_run(
    night: Night,  # noqa: F811
    scheduler: str,
    tmp_path: Path,
) -> None:
    """A refresh that fails is the step's failed job, as a failed sync is: Luigi's
    attach-only retries (and luigid's re-queue of a failed task) must not post a second
    one; only ``retries:`` or a new command may (the same command again is the recovery,
    and makes the second)."""
    command = _bad_load(night)
    night.set_faults({"jobs": {CRM: {"fail_attempts": 5, "failure_message": "disk full"}}})

    with contextlib.ExitStack() as stack:
        if scheduler == "luigid":
            (tmp_path / "luigid").mkdir()
            url = stack.enter_context(running_luigid(tmp_path / "luigid", FAST))
            command = [*command, "--scheduler-url", url, "--workers", "2"]
        failed = night.command(command)

        assert failed.returncode == 5, failed.stdout
        assert _by_type(night)[CRM] == {"sync": 1, "refresh": 1}, failed.stdout
        assert "disk full" in failed.stdout
        night.set_faults({"jobs": {}})
        again = night.command(command)  # the recovery the recap prints: one more refresh
        assert again.returncode == 0, again.stdout
    assert _by_type(night) == {CRM: {"sync": 1, "refresh": 2}, EVENTS: {"sync": 1}}
