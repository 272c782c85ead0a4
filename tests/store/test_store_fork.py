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
import sqlalchemy as sa

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


def _statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine sends from now on, and its new connections."""
    sent: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    sa.event.listen(store.engine, "connect", lambda *a: sent.append("-- connect"))
    return sent


def test_a_forked_child_uses_the_parents_store_without_checking_its_schema_again(
    tmp_path: Path,
) -> None:
    """Luigi forks a process per task: each one migrated and reflected the schema again
    (a write lock and a dozen queries per task) before this; now the child takes its own
    connections and writes at once, and the parent's pooled connection keeps working."""
    store = Store(f"sqlite:///{tmp_path / 'meta.db'}", busy_timeout_s=2).open()
    run_id = store.start_run("p")
    sent = _statements(store)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and exit code
        code = 1
        try:
            store.add_event(run_id, "child.wrote")
            os.write(write, "\n".join(sent).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_sql = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "events" in child_sql
    assert "-- connect" in child_sql  # its own connection, not the parent's pooled one
    for schema_query in ("schema_version", "sqlite_master", "PRAGMA main.table_info"):
        assert schema_query not in child_sql
    store.add_event(run_id, "parent.wrote")  # its pooled connection survived the child
    assert [e.name for e in store.events(run_id)] == ["child.wrote", "parent.wrote"]
    store.close()
