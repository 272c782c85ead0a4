"""A process forked while another thread of its parent is inside a store transaction can
still use the store (Luigi forks a process per task while the run's heartbeat, a skip-note
flush or a claim renewal writes). Without the fork gate, the child's fresh connection
waited for a lock nobody held until the busy timeout: "database is locked"."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from luigi_airbyte.store import Store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_a_child_forked_during_a_parent_transaction_can_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    parent = Store(url, busy_timeout_s=2).open()
    run_id = parent.start_run("p")
    inside = threading.Event()

    def hold() -> None:  # a heartbeat-like write that is in flight when the fork comes
        with parent.begin("hold the write lock a moment"):
            inside.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            child = Store(url, busy_timeout_s=2).open()
            child.add_event(run_id, "child.wrote")
            code = 0
        finally:
            os._exit(code)
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [e.name for e in parent.events(run_id)] == ["child.wrote"]
    parent.close()
