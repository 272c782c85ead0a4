"""``Store``: one metadata database, its transactions, and the repositories on top.

A ``Store`` is cheap to build (no connection yet); ``open()`` connects and migrates, and
every method opens the store on first use. Each write method runs in its own
transaction and commits before returning: the ledger row exists before the runner starts
waiting on a job, so a killed process finds it on the rerun.

The store defends itself (docs/architecture.md): an existing file that is empty, holds
tables but no ``schema_version`` (not a luigi-airbyte store), or lacks the tables and
columns of the latest schema is refused with a ``StoreError`` (exit 4) naming the file and
the fix; it is never silently recreated. A SQLite file remembers the device and inode it
was opened on, and every transaction checks them: a store deleted or replaced while a
run uses it fails that run loudly instead of recording into a file nobody will read.
``pin()`` extends the check to stores opened later by processes forked from this one, and
spares them the checks and migration the run made of that very file.

A ``Store`` may be shared by threads, and by processes forked from the one that opened
it: in the child it drops the parent's pooled connections (SQLAlchemy's
``engine.dispose(close=False)``, its documented pattern for ``fork``) and keeps the rest,
so a forked worker neither checks nor migrates the schema again, nor compiles its
statements again (each of Luigi's task processes did both: a write lock and a dozen
reflection queries per task).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from luigi_airbyte.closing import Closing
from luigi_airbyte.errors import StoreError
from luigi_airbyte.store.engine import (
    BEGIN_MODE_OPTION,
    DEFAULT_BUSY_TIMEOUT_S,
    create_store_engine,
    is_memory_sqlite,
    mask_url,
    resolve_url,
    translate_errors,
)
from luigi_airbyte.store.forkgate import GATE
from luigi_airbyte.store.hints import HintRepository
from luigi_airbyte.store.migrations import LATEST_VERSION, current_version, migrate
from luigi_airbyte.store.runs import RunRepository
from luigi_airbyte.store.schema import metadata, schema_version
from luigi_airbyte.store.sql_ledger import SqlLedger

_EMPTY_GRACE_S = 2.0
FileIdentity = tuple[int, int]  # (st_dev, st_ino)

# SQLite files pinned by a running run: path -> identity. A process forked from the run
# inherits this, so a worker opening the store after the file was replaced refuses it.
_PINNED: dict[str, FileIdentity] = {}
_PINNED_LOCK = threading.Lock()

# Every store of this process, for the fork hook at the end of this module.
_STORES: weakref.WeakSet[Store] = weakref.WeakSet()

_RESTORE_FIX = (
    "Restore the file from a backup, or point the store URL (store.url / --store-url) at "
    "another file. Deleting the file starts an empty store: the next run then has no "
    "history and syncs every connection again."
)


class Store(RunRepository, HintRepository, Closing):
    """The metadata store: runs, steps, the job ledger, stream stats, checks, events.

    ``url`` is a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``);
    without one, ``sqlite:///<state_dir or ./.luigi-airbyte>/metadata.db``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        state_dir: Path | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        echo: bool = False,
    ) -> None:
        self._url: URL = resolve_url(url, state_dir)
        self._busy_timeout_s = busy_timeout_s
        self._echo = echo
        self._engine: Engine | None = None
        self._opened = False
        self._lock = threading.Lock()
        self._ledger: SqlLedger | None = None
        self._identity: FileIdentity | None = None
        _STORES.add(self)

    # --- identity -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL with its password masked: safe to print and log."""
        return mask_url(self._url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # --- lifecycle ----------------------------------------------------------------------

    def open(self) -> Store:
        """Connect and migrate to the latest schema (idempotent; safe across processes)."""
        with self._lock:
            if self._opened:
                return self
            self._refuse_unusable_file()
            engine = self._get_engine()
            if not self._verified_by_run():
                with (
                    GATE.transaction(),
                    translate_errors("open and migrate the database", self._url),
                ):
                    self._refuse_foreign(engine)
                    migrate(engine)
                    self._refuse_wrong_schema(engine)
            self._identity = self._current_identity()
            self._opened = True
        return self

    # --- the store defends itself -------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None (PostgreSQL, in-memory SQLite)."""
        if self.dialect != "sqlite" or is_memory_sqlite(self._url):
            return None
        assert self._url.database is not None
        return Path(self._url.database).expanduser().absolute()

    def _current_identity(self) -> FileIdentity | None:
        path = self.path
        if path is None:
            return None
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino)

    def _verified_by_run(self) -> bool:
        """Whether this very file (same device and inode) is pinned: the running run of this
        process tree opened, migrated and checked it already (``pin``), so a Luigi worker
        forked from it need not do it again. Each check read every table's columns and the
        migration took SQLite's write lock: ~10 ms per task process, serialised across
        workers at a run's start."""
        path = self.path
        if path is None:
            return False
        pinned = _PINNED.get(str(path))
        return pinned is not None and self._current_identity() == pinned

    def _refuse(self, problem: str, fix: str = _RESTORE_FIX) -> StoreError:
        return StoreError(f"metadata store {self.url}: {problem}. {fix}")

    def _refuse_unusable_file(self) -> None:
        path = self.path
        if path is None:
            return
        pinned = _PINNED.get(str(path))
        if pinned is not None and self._current_identity() != pinned:
            raise self._replaced_error()
        deadline = time.monotonic() + _EMPTY_GRACE_S
        while True:
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                return  # a brand-new store: created and migrated below
            except OSError:
                return  # unreadable: SQLite says why, with a hint
            # Another process creating the store leaves it empty for a few milliseconds
            # (between its connect and its first write); a truncated store stays empty.
            if size > 0 or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if size == 0:
            raise self._refuse(
                f"the file {path} is empty (0 bytes): it is not a luigi-airbyte store, and "
                "its run history and job ledger are gone; refusing to start a new one "
                "silently, which would sync every connection again"
            )

    def _refuse_foreign(self, engine: Engine) -> None:
        tables = set(sa.inspect(engine).get_table_names())
        if schema_version.name in tables:
            return
        ours = tables & set(metadata.tables)
        foreign = {t for t in tables if not t.startswith("sqlite_")}
        if ours or (self.dialect == "sqlite" and foreign):
            where = f"the file {self.path}" if self.path is not None else "the database"
            listed = ", ".join(sorted(foreign)[:5])
            raise self._refuse(
                f"{where} holds tables ({listed}) but no schema_version table: it is not a "
                "luigi-airbyte store, and luigi-airbyte will not write into it",
                "Point the store URL (store.url / --store-url) at a luigi-airbyte store or "
                "at a new file or empty database.",
            )

    def _refuse_wrong_schema(self, engine: Engine) -> None:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        missing: list[str] = []
        for table in metadata.tables.values():
            if table.name not in tables:
                missing.append(table.name)
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
        if missing:
            where = f"the file {self.path}" if self.path is not None else "the database"
            raise self._refuse(
                f"{where} says it is a luigi-airbyte store (schema version "
                f"{LATEST_VERSION}) but lacks {', '.join(missing[:6])}: the schema is wrong",
                "Restore the store from a backup, or point the store URL at another file "
                "or database; do not edit its tables by hand.",
            )

    def _replaced_error(self) -> StoreError:
        return self._refuse(
            f"the file {self.path} was deleted or replaced while this run was using it; "
            "nothing more is recorded, so the run stops here and is not reported as "
            "succeeded",
            "Find out what removed the state folder, restore it if you can, then rerun the "
            "same date: Airbyte jobs already started are found again by their run key "
            "only if the store survives, so check Airbyte for duplicates first.",
        )

    def check_identity(self) -> None:
        """Raise ``StoreError`` if the SQLite file is not the one this store opened."""
        if self._identity is not None and self._current_identity() != self._identity:
            raise self._replaced_error()

    def pin(self) -> None:
        """Remember this file for processes forked from now on (see module docstring)."""
        self._ensure_open()
        path = self.path
        if path is not None and self._identity is not None:
            with _PINNED_LOCK:
                _PINNED[str(path)] = self._identity

    def unpin(self) -> None:
        path = self.path
        if path is not None:
            with _PINNED_LOCK:
                _PINNED.pop(str(path), None)

    def close(self) -> None:
        """Release pooled connections; the store reopens on next use."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._opened = False
            self._identity = None

    def __enter__(self) -> Store:
        return self.open()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (opens the store); for advanced queries and tests."""
        self._ensure_open()
        assert self._engine is not None
        return self._engine

    def schema_version(self) -> int:
        """The version recorded in the database (``LATEST_VERSION`` once opened)."""
        with self.read("read the schema version") as conn:
            return current_version(conn)

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def begin(self, action: str, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without error.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken (waiting
        up to the busy timeout) before anything is read, so concurrent writers queue
        instead of failing with "database is locked" halfway through.

        ``durable=False`` is for the run's progress record (step rows, events, stream
        stats), written many times per step: the commit does not wait for the disk
        (SQLite ``synchronous = NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit =
        off``). It survives a killed process, as every commit does; only a power loss or
        an OS crash may drop the last such commits, and the next durable commit (a
        ledger or claim write, the run's finish) flushes them with its own. The ledger,
        the claims and the run's start and finish always wait for the disk (fsync costs
        about 3 ms a commit here, and a sync makes a dozen progress writes). On
        PostgreSQL the ``SET LOCAL`` goes in the round trip of the ``BEGIN`` (``PG_BEGIN``).
        """
        with self._connect(action) as conn:
            relaxed = not durable and self.dialect == "sqlite" and not is_memory_sqlite(self._url)
            if relaxed:
                _sqlite_synchronous(conn, "NORMAL")
            try:
                if self.dialect == "sqlite":
                    conn.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
                elif not durable:
                    conn.execution_options(**{BEGIN_MODE_OPTION: "progress"})
                with conn.begin():
                    yield conn
            finally:
                if relaxed:
                    _sqlite_synchronous(conn, "FULL")

    @contextmanager
    def read(self, action: str) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._connect(action) as conn:
            if self.dialect == "postgresql":
                conn.execution_options(**{BEGIN_MODE_OPTION: "snapshot"})
            with conn.begin():
                yield conn

    @contextmanager
    def query(self, action: str) -> Iterator[Connection]:
        """A read of one statement, which is its own snapshot: on PostgreSQL without a
        transaction around it (``BEGIN`` and ``COMMIT`` are two more round trips, and a
        sync makes a few such reads on its path). Several statements go in `read`."""
        if self.dialect == "postgresql":
            with self._one_statement(action) as conn:
                yield conn
            return
        with self._connect(action) as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, action: str) -> Iterator[Connection]:
        """A durable write of one statement, which is its own transaction: on PostgreSQL
        without ``BEGIN`` and ``COMMIT`` (two more round trips; a sync makes a few such
        writes: its intent, its job's outcome, the claim's release); elsewhere `begin`.
        Several statements that must commit together, or a progress write, go in
        `begin`."""
        if self.dialect == "postgresql":
            with self._one_statement(action) as conn:
                yield conn
            return
        with self.begin(action) as conn:
            yield conn

    @contextmanager
    def _one_statement(self, action: str) -> Iterator[Connection]:
        """PostgreSQL: a connection that opens no transaction (``PG_BEGIN["none"]``), for
        one statement, which is a transaction of its own (`query`, `write`)."""
        with self._connect(action) as conn:
            conn.execution_options(**{BEGIN_MODE_OPTION: "none"})
            yield conn

    @contextmanager
    def _connect(self, action: str) -> Iterator[Connection]:
        """A connection of this store's, once it is open and still the same store, with
        no fork while it is in use (see ``forkgate``) and errors that name ``action``."""
        self._ensure_open()
        self.check_identity()
        assert self._engine is not None
        with (
            GATE.transaction(),
            translate_errors(action, self._url),
            self._engine.connect() as conn,
        ):
            yield conn

    # --- repositories -------------------------------------------------------------------

    @property
    def ledger(self) -> SqlLedger:
        """The job ledger backed by this store."""
        if self._ledger is None:
            self._ledger = SqlLedger(self)
        return self._ledger

    # --- internals ----------------------------------------------------------------------

    def _get_engine(self) -> Engine:
        if self._engine is None:
            with translate_errors("create the database engine", self._url):
                self._engine = create_store_engine(
                    self._url, busy_timeout_s=self._busy_timeout_s, echo=self._echo
                )
        return self._engine

    def _after_fork_in_child(self) -> None:
        """The child's own connections from now on; the schema stays checked."""
        self._lock = threading.Lock()  # a parent thread may have held it at the fork
        if self._engine is not None:
            self._engine.dispose(close=False)

    def _ensure_open(self) -> None:
        if not self._opened:
            self.open()

    def _not_found(self, what: str) -> StoreError:
        return StoreError(
            f"metadata store {self.url}: no {what}. List recorded runs with "
            "`luigi-airbyte history`, and check that the store URL is the one the run used."
        )


def _sqlite_synchronous(conn: Connection, level: str) -> None:
    """Set ``PRAGMA synchronous`` on the pooled connection, outside any transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA synchronous = {level}")


def _after_fork_in_child() -> None:
    # The child has one thread here, and no store transaction was in flight (forkgate).
    for store in list(_STORES):
        store._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
