"""apply interrupted midway: every connection is either fully applied or untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plan_helpers import CRM, EVENTS, SECRET_VAR, Project, intended_expects, world_data

ARCHIVE = "Events API → Archive"
CLI = str(Path(sys.executable).parent / "luigi-airbyte")


def test_interrupted_apply_leaves_each_connection_whole(
    make_project: Callable[..., Project],
) -> None:
    data = world_data()
    data["connections"].append(
        {
            "name": ARCHIVE,
            "source": "Events API",
            "destination": "Warehouse",
            "prefix": "archive_",
            "streams": [{"name": "events", "sync_mode": "full_refresh_append"}],
        }
    )
    project = make_project(data)
    expects: dict[str, dict[str, Any]] = intended_expects()
    expects[ARCHIVE] = {"prefix": "archive_", "streams": {"events": {}}}
    project.write(expects)
    prefixes = {CRM: "crm_", EVENTS: "events_", ARCHIVE: "archive_"}
    for name in prefixes:  # two fields drift on each: status and prefix
        project.patch(name, {"status": "inactive", "prefix": "old_"})
    # the second PATCH takes 3 s: the interrupt lands while it is in flight
    project.sandbox.set_faults(
        http=[{"endpoint": "PATCH /connections/{connectionId}", "nth": [2], "latency_ms": 3000}]
    )
    env = {**os.environ, SECRET_VAR: project.sandbox.client_secret, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [CLI, "apply", str(project.path), "--yes"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while project.connection(CRM)["status"] != "active":
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # now inside the slow second PATCH
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    time.sleep(3.5)  # let the server finish the request it already received

    assert proc.returncode == 130, out + err
    assert "INTERRUPTED while sending" in out + err
    whole = {}
    for name, prefix in prefixes.items():
        c = project.connection(name)
        state = (c["status"], c["prefix"])
        assert state in (("active", prefix), ("inactive", "old_")), (name, state)
        whole[name] = state[0] == "active"
    assert whole[CRM] is True  # applied before the interrupt
    assert whole[ARCHIVE] is False  # never sent
