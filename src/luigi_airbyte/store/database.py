"""``Store``: one metadata database, its transactions, and the repositories on top.

A ``Store`` is cheap to build (no connection yet); ``open()`` connects and migrates, and
every method opens the store on first use. Each write method runs in its own
transaction and commits before returning: the ledger row exists before the runner starts
waiting on a job, so a killed process finds it on the rerun.

A ``Store`` may be shared by threads. After ``fork`` build a new one in the child (an
engine's pooled connections must not cross processes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import URL, Connection, Engine

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store.engine import (
    BEGIN_MODE_OPTION,
    DEFAULT_BUSY_TIMEOUT_S,
    create_store_engine,
    mask_url,
    resolve_url,
    translate_errors,
)
from luigi_airbyte.store.migrations import LATEST_VERSION, current_version, migrate
from luigi_airbyte.store.runs import RunRepository
from luigi_airbyte.store.sql_ledger import SqlLedger


class Store(RunRepository):
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
            engine = self._get_engine()
            with translate_errors("open and migrate the database", self._url):
                migrate(engine)
            self._opened = True
        return self

    def close(self) -> None:
        """Release pooled connections; the store reopens on next use."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._opened = False

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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

    @property
    def latest_schema_version(self) -> int:
        return LATEST_VERSION

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def begin(self, action: str) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without error.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken (waiting
        up to the busy timeout) before anything is read, so concurrent writers queue
        instead of failing with "database is locked" halfway through.
        """
        self._ensure_open()
        assert self._engine is not None
        with translate_errors(action, self._url), self._engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self, action: str) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        self._ensure_open()
        assert self._engine is not None
        with translate_errors(action, self._url), self._engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
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

    def _ensure_open(self) -> None:
        if not self._opened:
            self.open()

    def _not_found(self, what: str) -> StoreError:
        return StoreError(
            f"metadata store {self.url}: no {what}. List recorded runs with "
            "`luigi-airbyte history`, and check that the store URL is the one the run used."
        )
