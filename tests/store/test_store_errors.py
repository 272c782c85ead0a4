"""URLs, defaults and failures: every error is a StoreError naming the masked URL and a fix."""

from __future__ import annotations

import socket
import sqlite3
import traceback
from pathlib import Path

import pytest

from luigi_airbyte.errors import LuigiAirbyteError, StoreError
from luigi_airbyte.store import LedgerEntry, Store, default_url, mask_url

SECRET = "CANARY-s3cr3t-pw"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(exc)


def test_default_url_is_under_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_url() == "sqlite:///.luigi-airbyte/metadata.db"
    with Store(state_dir=tmp_path / "state") as store:
        store.start_run("p")
    assert (tmp_path / "state" / "metadata.db").is_file()
    monkeypatch.chdir(tmp_path)
    with Store() as store:
        assert store.url == "sqlite:///.luigi-airbyte/metadata.db"
        store.start_run("p")
    assert (tmp_path / ".luigi-airbyte" / "metadata.db").is_file()


def test_sqlite_file_uses_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'm.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_in_memory_sqlite_works() -> None:
    with Store("sqlite://") as store:
        run_id = store.start_run("p")
        store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
        assert store.get_run(run_id).run.pipeline == "p"
        assert store.ledger.find_open("k") is not None


def test_postgres_urls_are_normalised_to_psycopg() -> None:
    for url in ("postgresql://u:p@h/db", "postgres://u:p@h/db"):
        store = Store(url)
        assert store.dialect == "postgresql"
        assert store.url == "postgresql+psycopg://u:***@h/db"


def test_password_is_masked_everywhere() -> None:
    url = f"postgresql+psycopg://airbyte:{SECRET}@127.0.0.1:5432/meta?sslpassword={SECRET}"
    store = Store(url)
    assert SECRET not in store.url and SECRET not in repr(store)
    assert SECRET not in mask_url(url)
    assert SECRET not in mask_url(f"not a url://user:{SECRET}@host")


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    url = f"postgresql+psycopg://airbyte:{SECRET}@127.0.0.1:{_closed_port()}/meta"
    with pytest.raises(StoreError) as excinfo:
        Store(url).open()
    err = excinfo.value
    text = str(err)
    assert "postgresql+psycopg://airbyte:***@127.0.0.1" in text
    assert "could not open and migrate the database" in text
    assert "running and reachable" in text
    assert SECRET not in _all_text(err)
    assert isinstance(err, LuigiAirbyteError) and err.exit_code == 4


def test_wrong_database_name_says_so(pg_server: object, postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StoreError, match=r"does not exist.*createdb"):
        Store(url).open()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u:pw@h/db", "only SQLite and PostgreSQL"),
        ("::not a url::", "not a valid database URL"),
    ],
)
def test_unsupported_or_invalid_urls(url: str, match: str) -> None:
    with pytest.raises(StoreError, match=match):
        Store(url)


def test_unwritable_state_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="could not"):
        Store(state_dir=blocker / "state").open()


def test_not_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"not a SQLite database|not a database"):
        Store(f"sqlite:///{path}").open()


def test_locked_sqlite_fails_loudly_after_the_busy_timeout(tmp_path: Path) -> None:
    """reliability-notes §7.14: a locked store fails the write with a StoreError, never silently."""
    path = tmp_path / "m.db"
    store = Store(f"sqlite:///{path}", busy_timeout_s=0.2).open()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match=r"locked.*busy timeout") as excinfo:
            store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
        assert "record job 1 for run key 'k'" in str(excinfo.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.ledger.record_job(LedgerEntry(run_key="k", connection_id="c", job_id=1))
    assert store.ledger.find_open("k") is not None
    store.close()


def test_store_reopens_after_close(store: Store) -> None:
    store.start_run("p")
    store.close()
    assert len(store.history()) == 1  # lazily reopened
