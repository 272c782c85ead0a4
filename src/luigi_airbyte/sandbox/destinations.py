"""Writers that put sandbox records into real databases, the way Airbyte's v2 destinations do.

Every table gets the business columns plus the Destinations V2 columns ``_airbyte_raw_id``,
``_airbyte_extracted_at``, ``_airbyte_meta`` (JSON text with ``sync_id`` and ``changes``) and
``_airbyte_generation_id``, so code downstream sees what a real warehouse would hold.

DuckDB is written with the ``duckdb`` package and the file is opened per operation and closed
again: DuckDB locks its file per process, and dbt in another process must be able to read the
warehouse between syncs. SQLite and PostgreSQL go through SQLAlchemy Core. Writes to one
destination are serialised by a lock, which also keeps DuckDB's optimistic concurrency and
SQLite's file lock from failing attempts at random.
"""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

AIRBYTE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_airbyte_raw_id", "string"),
    ("_airbyte_extracted_at", "timestamp"),
    ("_airbyte_meta", "string"),
    ("_airbyte_generation_id", "integer"),
)


class DestinationWriteError(Exception):
    """The destination refused a write; the attempt fails with this message."""


@dataclass(frozen=True)
class TableRef:
    name: str
    schema: str | None = None


@dataclass(frozen=True)
class Dedup:
    """Keep one row per primary key: the latest by cursor, then by extraction time."""

    primary_key: tuple[str, ...]
    cursor: str | None


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(ref: TableRef) -> str:
    return f"{quote(ref.schema)}.{quote(ref.name)}" if ref.schema else quote(ref.name)


def _dedup_sql(ref: TableRef, dedup: Dedup) -> str:
    order = [f"{quote(dedup.cursor)} DESC"] if dedup.cursor else []
    order.append("_airbyte_extracted_at DESC")
    part = ", ".join(quote(k) for k in dedup.primary_key)
    t = _qualified(ref)
    return (
        f"DELETE FROM {t} WHERE _airbyte_raw_id IN (SELECT _airbyte_raw_id FROM "
        f"(SELECT _airbyte_raw_id, ROW_NUMBER() OVER (PARTITION BY {part} "
        f"ORDER BY {', '.join(order)}) AS rn FROM {t}) ranked WHERE rn > 1)"
    )


class Writer(ABC):
    """One destination database."""

    types: dict[str, str]

    def __init__(self) -> None:
        self.lock = threading.RLock()

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep the database open across many operations (one attempt); no-op by default."""
        yield

    # the three primitives each backend provides ------------------------------
    @abstractmethod
    def _transaction(self) -> Any:
        """Context manager yielding ``run(sql, params=None, many=False)`` inside a transaction."""

    @abstractmethod
    def _columns(self, ref: TableRef) -> list[str] | None:
        """Existing column names, or None if the table does not exist."""

    @abstractmethod
    def _placeholder(self, i: int) -> str: ...

    def _adapt(self, value: Any) -> Any:
        return value

    def check(self) -> None:
        """Connect and run a trivial query; raises on failure."""
        with self.lock, self._transaction() as run:
            run("SELECT 1")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""

    # operations used by the engine ---------------------------------------------
    def ensure_table(self, ref: TableRef, columns: Sequence[tuple[str, str]]) -> None:
        """Create the table, or add columns that appeared in the source (schema drift)."""
        wanted = [*columns, *AIRBYTE_COLUMNS]
        with self.lock:
            existing = self._columns(ref)
            with self._transaction() as run:
                if ref.schema and existing is None:
                    run(f"CREATE SCHEMA IF NOT EXISTS {quote(ref.schema)}")
                if existing is None:
                    cols = ", ".join(f"{quote(n)} {self.types[t]}" for n, t in wanted)
                    run(f"CREATE TABLE IF NOT EXISTS {_qualified(ref)} ({cols})")
                    return
                have = {c.lower() for c in existing}
                for n, t in wanted:
                    if n.lower() not in have:
                        run(f"ALTER TABLE {_qualified(ref)} ADD COLUMN {quote(n)} {self.types[t]}")

    def insert_records(
        self,
        ref: TableRef,
        names: Sequence[str],
        records: Iterable[Sequence[Any]],
        *,
        sync_id: int,
        generation: int,
        dedup: Dedup | None = None,
    ) -> int:
        """Insert records (values in ``names`` order) with the Destinations V2 columns a
        sync writes (a new raw id each, ``_airbyte_meta`` naming ``sync_id``); the count."""
        extracted = datetime.now(timezone.utc).replace(tzinfo=None)
        meta = json.dumps({"sync_id": sync_id, "changes": []})
        rows = [[*values, str(uuid.uuid4()), extracted, meta, generation] for values in records]
        self.insert(ref, [*names, *(name for name, _ in AIRBYTE_COLUMNS)], rows, dedup)
        return len(rows)

    def insert(
        self,
        ref: TableRef,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        dedup: Dedup | None = None,
    ) -> None:
        """Insert rows (and dedup) in one transaction: the unit a checkpoint commits."""
        if not rows and dedup is None:
            return
        params = [[self._adapt(v) for v in row] for row in rows]
        with self.lock, self._transaction() as run:
            if params:
                self._insert_rows(run, ref, columns, params)
            if dedup is not None:
                run(_dedup_sql(ref, dedup))

    def _insert_rows(
        self, run: Any, ref: TableRef, columns: Sequence[str], params: list[list[Any]]
    ) -> None:
        cols = ", ".join(quote(c) for c in columns)
        marks = ", ".join(self._placeholder(i) for i in range(len(columns)))
        run(f"INSERT INTO {_qualified(ref)} ({cols}) VALUES ({marks})", params, many=True)

    def truncate(self, ref: TableRef) -> None:
        with self.lock:
            if self._columns(ref) is None:
                return
            with self._transaction() as run:
                run(f"DELETE FROM {_qualified(ref)}")

    def delete_sync(self, ref: TableRef, sync_id: int) -> None:
        """Delete the rows one sync wrote (a full-refresh retry starts the stream again)."""
        with self.lock:
            if self._columns(ref) is None:
                return
            with self._transaction() as run:
                run(
                    f"DELETE FROM {_qualified(ref)} WHERE {quote('_airbyte_meta')} LIKE "
                    f"'%\"sync_id\": {int(sync_id)},%'"
                )

    def drop(self, ref: TableRef) -> None:
        with self.lock, self._transaction() as run:
            run(f"DROP TABLE IF EXISTS {_qualified(ref)}")

    def replace(self, final: TableRef, staging: TableRef, dedup: Dedup | None) -> None:
        """Swap a staging table over the final one atomically (overwrite modes)."""
        with self.lock:
            if self._columns(staging) is None:
                return
            with self._transaction() as run:
                if dedup is not None:
                    run(_dedup_sql(staging, dedup))
                run(f"DROP TABLE IF EXISTS {_qualified(final)}")
                run(f"ALTER TABLE {_qualified(staging)} RENAME TO {quote(final.name)}")

    def columns(self, ref: TableRef) -> list[str] | None:
        """Column names of a table, or None if it does not exist."""
        with self.lock:
            return self._columns(ref)

    def count(self, ref: TableRef) -> int:
        with self.lock:
            if self._columns(ref) is None:
                return 0
            with self._transaction() as run:
                rows = run(f"SELECT COUNT(*) FROM {_qualified(ref)}")
                return int(rows[0][0])

    def max_sync_id(self, ref: TableRef) -> int:
        """The highest ``sync_id`` in a table's ``_airbyte_meta`` (0 for none or no table)."""
        with self.lock:
            cols = self._columns(ref)
            if cols is None or "_airbyte_meta" not in cols:
                return 0
            with self._transaction() as run:
                metas = [r[0] for r in run(f"SELECT DISTINCT _airbyte_meta FROM {_qualified(ref)}")]
        best = 0
        for meta in metas:
            try:
                data = json.loads(meta) if isinstance(meta, (str, bytes)) else meta
                best = max(best, int(data.get("sync_id") or 0))
            except (TypeError, ValueError, AttributeError):
                continue
        return best

    def select(self, ref: TableRef, sql_tail: str = "") -> list[tuple[Any, ...]]:
        """Rows of a table (tests and debugging); ``sql_tail`` is appended, e.g. ORDER BY."""
        with self.lock:
            if self._columns(ref) is None:
                return []
            with self._transaction() as run:
                return list(run(f"SELECT * FROM {_qualified(ref)} {sql_tail}"))


class DuckDBWriter(Writer):
    types = {
        "integer": "BIGINT",
        "number": "DOUBLE",
        "string": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "boolean": "BOOLEAN",
    }

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._held: Any = None
        self._holders = 0

    def _placeholder(self, i: int) -> str:
        return "?"

    def _open(self) -> Any:
        import duckdb

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return duckdb.connect(str(self.path))
        except (OSError, duckdb.Error) as exc:
            raise DestinationWriteError(f"Could not open DuckDB file {self.path}: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold the file open while an attempt writes; the last holder closes it again."""
        with self.lock:
            if self._holders == 0:
                self._held = self._open()
            self._holders += 1
        try:
            yield
        finally:
            with self.lock:
                self._holders -= 1
                if self._holders == 0 and self._held is not None:
                    self._held.close()
                    self._held = None

    def _insert_rows(
        self, run: Any, ref: TableRef, columns: Sequence[str], params: list[list[Any]]
    ) -> None:
        # multi-row VALUES: several times faster than executemany in DuckDB
        cols = ", ".join(quote(c) for c in columns)
        one = "(" + ", ".join("?" for _ in columns) + ")"
        for i in range(0, len(params), 200):
            part = params[i : i + 200]
            run(
                f"INSERT INTO {_qualified(ref)} ({cols}) VALUES " + ", ".join([one] * len(part)),
                [v for row in part for v in row],
            )

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        import duckdb

        held = self._held is not None
        con = self._held if held else self._open()
        try:
            con.begin()

            def run(sql: str, params: Any = None, many: bool = False) -> list[Any]:
                if many:
                    con.executemany(sql, params)
                    return []
                cur = con.execute(sql, params) if params is not None else con.execute(sql)
                try:
                    return list(cur.fetchall())
                except duckdb.Error:
                    return []

            try:
                yield run
                con.commit()
            except duckdb.Error as exc:
                con.rollback()
                raise DestinationWriteError(f"DuckDB error: {exc}") from exc
            except BaseException:
                con.rollback()
                raise
        finally:
            if not held:
                con.close()

    def _columns(self, ref: TableRef) -> list[str] | None:
        with self._transaction() as run:
            rows = run(
                # duckdb_columns() is several times faster than information_schema
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                "AND schema_name = COALESCE(?, current_schema()) ORDER BY column_index",
                [ref.name, ref.schema],
            )
        return [r[0] for r in rows] if rows else None


class SQLAlchemyWriter(Writer):
    """SQLite, PostgreSQL or any other SQLAlchemy URL, through SQLAlchemy 2 Core."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import sqlalchemy as sa

        self.url = url
        self._sa = sa
        parsed = sa.engine.make_url(url)
        self.dialect = parsed.get_backend_name()
        connect_args: dict[str, Any] = {}
        if self.dialect == "postgresql":
            connect_args["connect_timeout"] = 5
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url, connect_args=connect_args)
        if self.dialect == "sqlite":
            self.types = {
                "integer": "INTEGER",
                "number": "REAL",
                "string": "TEXT",
                "timestamp": "TIMESTAMP",
                "boolean": "BOOLEAN",
            }
        else:
            self.types = {
                "integer": "BIGINT",
                "number": "DOUBLE PRECISION",
                "string": "TEXT",
                "timestamp": "TIMESTAMP",
                "boolean": "BOOLEAN",
            }

    def _placeholder(self, i: int) -> str:
        return f":p{i}"

    def _adapt(self, value: Any) -> Any:
        # sqlite3's implicit datetime adapter is deprecated; store SQLAlchemy's text format.
        if self.dialect == "sqlite" and isinstance(value, datetime):
            return value.isoformat(sep=" ")
        return value

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        sa = self._sa
        try:
            with self.engine.begin() as conn:

                def run(sql: str, params: Any = None, many: bool = False) -> list[Any]:
                    stmt = sa.text(sql)
                    if many:
                        conn.execute(stmt, [{f"p{i}": v for i, v in enumerate(r)} for r in params])
                        return []
                    res = conn.execute(stmt, params or {})
                    return list(res.fetchall()) if res.returns_rows else []

                yield run
        except sa.exc.SQLAlchemyError as exc:
            raise DestinationWriteError(f"{self.dialect} error: {exc}") from exc

    def _columns(self, ref: TableRef) -> list[str] | None:
        sa = self._sa
        try:
            with self.engine.connect() as conn:
                insp = sa.inspect(conn)
                if not insp.has_table(ref.name, schema=ref.schema):
                    return None
                return [c["name"] for c in insp.get_columns(ref.name, schema=ref.schema)]
        except sa.exc.SQLAlchemyError as exc:
            raise DestinationWriteError(f"{self.dialect} error: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()


def import_drivers(kinds: Iterable[str]) -> None:
    """Import now the drivers that destinations of ``kinds`` write with.

    The engine does so when it starts, as Airbyte's destinations are up before a job
    runs. Imported by the first job instead, DuckDB's ~0.1 s held every job of a run's
    first wave at its destination's lock and, holding the GIL, delayed the API's answers
    (``benchmarks/scale.py``, N = 10: the first wave's jobs took 1.12 s for 1 s)."""
    if "duckdb" in kinds:
        importlib.import_module("duckdb")


def make_writer(kind: str, *, path: Path | None, url: str | None) -> Writer:
    """A writer for a world destination: duckdb path, sqlite path or URL, postgres URL."""
    if kind == "duckdb":
        assert path is not None
        return DuckDBWriter(path)
    if url is None:
        assert path is not None
        url = f"sqlite:///{path}"
    return SQLAlchemyWriter(url)


def writer_url(kind: str, *, path: Path | None, url: str | None) -> str:
    """A URL a test can open the destination with (``duckdb:///`` for DuckDB files)."""
    if url is not None:
        return url
    assert path is not None
    return f"{'duckdb' if kind == 'duckdb' else 'sqlite'}:///{path}"
