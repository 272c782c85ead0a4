"""The store defends itself: an untrusted file is refused (exit 4), never recreated, and
a file deleted or replaced under a process fails its next transaction."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store import Store


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_a_brand_new_state_folder_is_fine(tmp_path: Path) -> None:
    with Store(state_dir=tmp_path / "new" / "state") as store:
        store.start_run("p")
        assert len(store.history()) == 1


def test_an_empty_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    path.write_bytes(b"")

    with pytest.raises(StoreError) as excinfo:
        Store(_url(path)).open()

    text = str(excinfo.value)
    assert excinfo.value.exit_code == 4
    assert str(path) in text and "empty (0 bytes)" in text
    assert "Restore the file from a backup" in text
    assert path.stat().st_size == 0  # never silently recreated


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (9.5)")

    with pytest.raises(StoreError, match=r"holds tables \(invoices\) but no schema_version"):
        Store(_url(path)).open()

    with sqlite3.connect(path) as conn:  # untouched: no table of ours was added
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"invoices"}


def test_a_store_missing_tables_is_refused_as_the_wrong_schema(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    Store(_url(path)).open().close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE events")

    with pytest.raises(StoreError, match=r"lacks events: the schema is wrong") as excinfo:
        Store(_url(path)).open()
    assert str(path) in str(excinfo.value)


def test_a_store_file_replaced_under_a_process_fails_its_next_write(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = Store(state_dir=state).open()
    run_id = store.start_run("p")
    shutil.rmtree(state)  # rm -rf of the state folder mid-run

    with pytest.raises(StoreError, match="was deleted or replaced while this run was using it"):
        store.finish_run(run_id, "succeeded", 0)
    with pytest.raises(StoreError, match="deleted or replaced"):
        store.history()
    assert not state.exists()  # nothing written into a new file either


def test_a_pinned_store_refuses_a_replacement_in_a_new_opener(tmp_path: Path) -> None:
    """A worker forked from the run (a new Store, same module state) refuses the new file."""
    path = tmp_path / "metadata.db"
    store = Store(_url(path)).open()
    store.pin()
    try:
        os.remove(path)
        with pytest.raises(StoreError, match="deleted or replaced"):
            Store(_url(path)).open()  # a worker would otherwise start a fresh, empty store
        assert not path.exists()
    finally:
        store.unpin()
    Store(_url(path)).open().close()  # unpinned: the new file is a store like any other


def test_a_worker_of_the_run_trusts_the_pinned_file_without_checking_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run opened, migrated and checked this very file: a Luigi worker forked from it
    (a new Store, same module state) neither migrates nor reads every table's columns."""
    import luigi_airbyte.store.database as database

    path = tmp_path / "metadata.db"
    store = Store(_url(path)).open()
    checks: list[str] = []
    monkeypatch.setattr(database, "migrate", lambda engine: checks.append("migrate"))
    store.pin()
    try:
        worker = Store(_url(path)).open()
        worker.start_run("p")  # a usable store
        worker.close()
        assert checks == []
    finally:
        store.unpin()
    Store(_url(path)).open().close()  # unpinned: checked (and migrated) as any other opener
    assert checks == ["migrate"]
    store.close()
