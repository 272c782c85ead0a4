"""Read-only access to the destination warehouse, just enough for checks.

``duckdb:///path`` opens DuckDB directly and read-only (duckdb-engine is not a
dependency); anything else goes through SQLAlchemy (``sqlite:///``,
``postgresql+psycopg://``). SQLite files are opened read-only too, so a check can never
create or modify a database. Parameters use ``:name`` style for every backend.

URLs may carry a password resolved from a secret reference: only ``mask_url(url)``
ever appears in messages.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from luigi_airbyte.backoff import Backoff, retry_until
from luigi_airbyte.closing import Closing
from luigi_airbyte.errors import CheckFailedError
from luigi_airbyte.masking import mask_url

logger = logging.getLogger(__name__)

_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class WarehouseError(CheckFailedError):
    """The warehouse could not be opened or queried (exit code 6, like a failed check)."""


def quote_identifier(part: str) -> str:
    return '"' + part.replace('"', '""') + '"'


def split_table(name: str) -> list[str]:
    """``schema.table`` → ``["schema", "table"]``; a part may be quoted to hold a dot."""
    parts = [p.strip('"') for p in re.findall(r'"(?:[^"]|"")*"|[^.]+', name)]
    if not parts or len(parts) > 3 or any(not p for p in parts):
        raise ValueError(f"not a table name: {name!r} (use table, schema.table or db.schema.table)")
    return parts


# information_schema rows of one table: catalog and schema only when the name gives them
_SAME_TABLE = (
    " where lower(table_name) = lower(:t)"
    " and (:s is null or lower(table_schema) = lower(:s))"
    " and (:c is null or lower(table_catalog) = lower(:c))"
)


def _table_params(name: str) -> dict[str, str | None]:
    """``_SAME_TABLE``'s parameters for ``[catalog.][schema.]table``."""
    parts: list[str | None] = [None, None, *split_table(name)]
    catalog, schema, table = parts[-3:]
    return {"t": table, "s": schema, "c": catalog}


class Warehouse(Closing, ABC):
    """What checks need from a warehouse connection; use it as a context manager."""

    dialect: str = "unknown"
    display_url: str = ""

    @abstractmethod
    def rows(
        self, sql: str, params: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return up to ``limit`` rows (all when None)."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether ``table``, ``schema.table`` (or ``db.schema.table``) exists."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """Column names of an existing table, in order."""

    @abstractmethod
    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of top-level ``key`` in the JSON text/JSON column ``column``."""

    @abstractmethod
    def close(self) -> None: ...

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        found = self.rows(sql, params, limit=1)
        return found[0][0] if found and found[0] else None

    def quote_table(self, name: str) -> str:
        return ".".join(quote_identifier(p) for p in split_table(name))


def _json_key(key: str) -> str:
    if not re.fullmatch(r"[A-Za-z_]\w*", key):
        raise ValueError(f"unsupported JSON key {key!r}")
    return key


#: How long a check waits for a DuckDB file another process holds (a sync writing it).
DUCKDB_LOCK_WAIT_S = 600.0

_LOCK_BACKOFF = Backoff(base=0.1, cap=5.0, jitter="equal")


class _FileLocked(Exception):
    """DuckDB refused the open: another process holds the file."""


class DuckDBWarehouse(Warehouse):
    """A DuckDB file opened read-only (``:memory:`` for tests is opened read-write).

    DuckDB lets one process hold a file while it writes, and a destination holds it for
    its whole sync. A check of one connection that runs while a sync of another writes
    the same file waits for it (up to ``lock_wait`` seconds) instead of failing.
    """

    dialect = "duckdb"

    def __init__(self, path: str, url: str, *, lock_wait: float = DUCKDB_LOCK_WAIT_S) -> None:
        import duckdb

        self.display_url = mask_url(url)
        memory = path in ("", ":memory:")
        if not memory and not Path(path).exists():
            raise WarehouseError(f"{self.display_url}: the DuckDB file does not exist")

        def connect() -> Any:
            try:
                return duckdb.connect(":memory:" if memory else path, read_only=not memory)
            except duckdb.IOException as exc:
                if "Could not set lock" in str(exc):
                    raise _FileLocked(str(exc)) from None
                raise

        def waiting(attempt: int, exc: BaseException) -> None:
            if attempt == 1:
                logger.warning(
                    "%s: another process holds the DuckDB file (a sync or dbt writing it?); "
                    "waiting up to %.0fs for it",
                    self.display_url,
                    lock_wait,
                )

        try:
            self._con = retry_until(
                connect,
                retry_on=(_FileLocked,),
                deadline=time.monotonic() + lock_wait,
                backoff=_LOCK_BACKOFF,
                monotonic=time.monotonic,
                sleep=time.sleep,
                on_retry=waiting,
            )
        except _FileLocked as exc:
            raise WarehouseError(
                f"{self.display_url}: another process held the DuckDB file for "
                f"{lock_wait:.0f}s ({exc}); run the check again once what writes it (a "
                "sync, dbt) has finished"
            ) from None
        except duckdb.Error as exc:
            raise WarehouseError(f"{self.display_url}: cannot open DuckDB: {exc}") from None

    def rows(
        self, sql: str, params: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        import duckdb

        try:
            if params:
                cursor = self._con.execute(_NAMED_PARAM.sub(r"$\1", sql), dict(params))
            else:
                cursor = self._con.execute(sql)
            out = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
        except duckdb.Error as exc:
            raise WarehouseError(f"{self.display_url}: {type(exc).__name__}: {exc}") from None
        return [tuple(r) for r in out]

    def table_exists(self, name: str) -> bool:
        sql = f"select count(*) from information_schema.tables{_SAME_TABLE}"
        return bool(self.scalar(sql, _table_params(name)))

    def columns(self, table: str) -> list[str]:
        sql = (
            f"select column_name from information_schema.columns{_SAME_TABLE}"
            " order by ordinal_position"
        )
        return [str(r[0]) for r in self.rows(sql, _table_params(table))]

    def json_text(self, column: str, key: str) -> str:
        text, key = f"CAST({quote_identifier(column)} AS VARCHAR)", _json_key(key)
        return f"CASE WHEN json_valid({text}) THEN json_extract_string({text}, '$.{key}') END"

    def close(self) -> None:
        self._con.close()


class SQLAlchemyWarehouse(Warehouse):
    """Any SQLAlchemy URL; SQLite files are opened with ``mode=ro``."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        self._sa = sa
        self._error = SQLAlchemyError
        try:
            parsed = sa.engine.make_url(url)
        except (ArgumentError, ValueError):  # ValueError: a port that is no number
            raise WarehouseError(f"{mask_url(url)}: not a database URL") from None
        self.display_url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        connect_args: dict[str, Any] = {}
        if self.dialect == "sqlite":
            parsed, connect_args = _sqlite_read_only(parsed, self.display_url)
        try:
            self._engine = sa.create_engine(parsed, connect_args=connect_args)
            conn = self._engine.connect()
            if self.dialect == "postgresql":
                conn = conn.execution_options(postgresql_readonly=True)
            self._conn = conn
        except (SQLAlchemyError, ImportError) as exc:
            raise WarehouseError(f"{self.display_url}: cannot connect: {_short(exc)}") from None

    def rows(
        self, sql: str, params: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        try:
            result = self._conn.execute(self._sa.text(sql), dict(params or {}))
            out = result.fetchall() if limit is None else result.fetchmany(limit)
        except self._error as exc:
            self._conn.rollback()
            raise WarehouseError(f"{self.display_url}: {_short(exc)}") from None
        return [tuple(r) for r in out]

    def table_exists(self, name: str) -> bool:
        parts = split_table(name)
        schema = parts[-2] if len(parts) > 1 else None
        try:
            return bool(self._sa.inspect(self._conn).has_table(parts[-1], schema=schema))
        except self._error as exc:
            raise WarehouseError(f"{self.display_url}: {_short(exc)}") from None

    def columns(self, table: str) -> list[str]:
        parts = split_table(table)
        schema = parts[-2] if len(parts) > 1 else None
        try:
            found = self._sa.inspect(self._conn).get_columns(parts[-1], schema=schema)
        except self._error as exc:
            raise WarehouseError(f"{self.display_url}: {_short(exc)}") from None
        return [str(c["name"]) for c in found]

    def json_text(self, column: str, key: str) -> str:
        col, key = quote_identifier(column), _json_key(key)
        if self.dialect == "sqlite":
            return (
                f"CASE WHEN json_valid({col}) THEN CAST(json_extract({col}, '$.{key}') AS TEXT) END"
            )
        if self.dialect == "postgresql":
            return f"(CAST({col} AS jsonb) ->> '{key}')"
        return f"CAST(JSON_VALUE({col}, '$.{key}') AS VARCHAR(64))"  # SQL:2016

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()


def _short(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL/parameter/background appendix."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.split("\n[SQL:")[0].split("\n(Background")[0].strip()


def _sqlite_read_only(parsed: Any, display: str) -> tuple[Any, dict[str, Any]]:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return parsed, {}
    if not Path(database).exists():
        raise WarehouseError(f"{display}: the SQLite file does not exist")
    uri = Path(database).resolve().as_uri()
    return parsed.set(database=uri, query={"mode": "ro", "uri": "true"}), {}


def duckdb_path(url: str) -> str | None:
    """The file of a ``duckdb://`` URL (``""`` or ``:memory:`` in memory); None otherwise."""
    if not url.startswith("duckdb://"):
        return None
    path = url[len("duckdb://") :]
    path = path[1:] if path.startswith("/") else path  # duckdb:///rel, duckdb:////abs
    return path.split("?", 1)[0]


#: Bytes 8-11 of every DuckDB database file (after an 8-byte checksum).
DUCKDB_MAGIC = b"DUCK"


def duckdb_file_problem(path: str) -> str | None:
    """Why ``path`` is not a readable DuckDB database file, or None: read from its header,
    without opening it. DuckDB lets one process at a time hold a file, and any open, even
    read-only, fails a sync that starts writing it in that moment."""
    try:
        with open(path, "rb") as file:
            head = file.read(12)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if head[8:12] != DUCKDB_MAGIC:
        return f"{path} is not a DuckDB database file (its header lacks {DUCKDB_MAGIC.decode()})"
    return None


def open_warehouse(url: str, *, lock_wait: float = DUCKDB_LOCK_WAIT_S) -> Warehouse:
    """Open ``url`` read-only; raises ``WarehouseError`` (message with a masked URL).
    A DuckDB file another process holds is waited for, up to ``lock_wait`` seconds."""
    path = duckdb_path(url)
    if path is not None:
        return DuckDBWarehouse(path, url, lock_wait=lock_wait)
    return SQLAlchemyWarehouse(url)
