"""Store URLs, engines and error translation.

Only SQLite (the default, a file under the state folder) and PostgreSQL (``psycopg`` 3)
are supported: both have ``INSERT ... ON CONFLICT``, which the ledger needs to stay
idempotent when two processes record the same job.

SQLite is made safe for several processes (two ``luigi-airbyte run``, luigid workers):
WAL journal, a busy timeout, foreign keys on, and every write transaction opened with
``BEGIN IMMEDIATE`` so a writer waits for the lock up front instead of failing when a
read transaction tries to upgrade.

On both, the driver is in autocommit and a "begin" hook opens each transaction itself
(``BEGIN_MODE_OPTION``): on PostgreSQL that lets a transaction open with its settings in
the same round trip (``BEGIN ...; SET LOCAL synchronous_commit TO OFF``), and a
statement that is a transaction on its own go without ``BEGIN`` and ``COMMIT``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import ConfigError, Problem, StoreError
from luigi_airbyte.masking import MASK, is_maskable, is_secret_name, mask_values
from luigi_airbyte.masking import mask_url as mask_url_text

DEFAULT_STATE_DIR = Path(".luigi-airbyte")
DB_FILENAME = "metadata.db"
DEFAULT_BUSY_TIMEOUT_S = 30.0

# Execution option read by the "begin" hooks. SQLite: "DEFERRED" (reads) or "IMMEDIATE".
# PostgreSQL: one of ``PG_BEGIN``'s keys (default "write").
BEGIN_MODE_OPTION = "luigi_airbyte_begin"

PG_BEGIN: dict[str, bytes | None] = {
    "write": b"BEGIN ISOLATION LEVEL READ COMMITTED",
    # the run's progress record: its commit does not wait for the disk (Store.begin)
    "progress": b"BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit TO OFF",
    "snapshot": b"BEGIN ISOLATION LEVEL REPEATABLE READ",
    "none": None,  # one statement, its own transaction (autocommit)
}
"""How a PostgreSQL transaction opens, in one round trip (several statements of a simple
query, sent as they are: no parameters)."""


def default_url(state_dir: Path | None = None) -> str:
    """``sqlite:///<state_dir or ./.luigi-airbyte>/metadata.db``."""
    folder = state_dir if state_dir is not None else DEFAULT_STATE_DIR
    return f"sqlite:///{folder / DB_FILENAME}"


def mask_url(url: URL | str) -> str:
    """The URL as text with its password (and secret-looking query values) replaced by ***."""
    if isinstance(url, str):
        raw = url
        try:
            url = make_url(raw)
        except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is no number
            return mask_url_text(raw)
    query = {key: (MASK if is_secret_name(key) else value) for key, value in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True)


def secrets_of(url: URL) -> list[str]:
    """Every secret value in the URL, so error text can be scrubbed of them."""
    found = [url.password] if url.password else []
    for key, value in url.query.items():
        if is_secret_name(key):
            found.extend([value] if isinstance(value, str) else list(value))
    return [str(s) for s in found if s and is_maskable(str(s))]


def with_password(url: str, password: str, field: str) -> str:
    """``url`` with ``password`` set. A URL that does not parse (it may come from a
    reference: it is never repeated) is a ``ConfigError`` naming ``field``."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is no number
        problem = Problem(
            source="settings",
            field=field,
            message="not a database URL (its scheme, host or port is malformed)",
            fix="write a URL like postgresql://user@host:5432/db",
        )
        raise ConfigError([problem]) from None
    return parsed.set(password=password).render_as_string(hide_password=False)


def resolve_url(url: str | None, state_dir: Path | None = None) -> URL:
    """Parse and normalise a store URL; ``None`` means the SQLite file under the state dir.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3 is
    the only PostgreSQL driver we install).
    """
    text = url if url is not None else default_url(state_dir)
    try:
        parsed = make_url(text)
    except (sa_exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        raise StoreError(
            f"metadata store URL {mask_url(text)!r} is not a valid database URL ({exc}). "
            "Use sqlite:///path/to/metadata.db or postgresql+psycopg://user@host/db."
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise StoreError(
            f"metadata store URL {mask_url(parsed)!r} uses {backend!r}; only SQLite and "
            "PostgreSQL are supported (sqlite:///path or postgresql+psycopg://...)."
        )
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(
    url: URL, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, echo: bool = False
) -> Engine:
    """An engine configured for concurrent, crash-safe use of the store."""
    serializer = _json_dumps
    if url.get_backend_name() == "postgresql":
        engine = sa.create_engine(
            url,
            json_serializer=serializer,
            echo=echo,
            future=True,
            isolation_level="AUTOCOMMIT",  # the "begin" hook opens transactions
            pool_use_lifo=True,  # a burst reuses the connection just returned: no ping
        )
        _install_postgres_begin(engine)
        _install_idle_ping(engine)
        return engine
    kwargs: dict[str, Any] = {}
    if is_memory_sqlite(url):
        # One shared connection, or every checkout would see a different empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        assert url.database is not None
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, json_serializer=serializer, echo=echo, **kwargs)
    _install_sqlite_hooks(engine, busy_timeout_ms=int(busy_timeout_s * 1000))
    return engine


def _json_default(value: Any) -> Any:
    """Datetimes as ISO 8601, sets as lists, anything else as its ``str``."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _json_dumps(value: Any) -> str:
    # Fields/details come from events and checks; an odd value must not lose the whole row.
    return json.dumps(value, default=_json_default, sort_keys=True)


# Waits while another connection holds the lock that switching to WAL needs: 5 ms
# doubling to 200 ms, no jitter.
_WAL_SWITCH_RETRY = Backoff(base=0.005, cap=0.2, jitter="none")


def _use_wal(cursor: Any, *, timeout_s: float) -> None:
    """Switch the file to WAL, retrying while another process holds it.

    Changing the journal mode needs the database to itself, and SQLite answers "database
    is locked" at once instead of calling the busy handler. Several processes opening a
    new store together (two ``luigi-airbyte run`` on a fresh state folder) hit exactly
    that, so retry with backoff until the busy timeout.
    """
    deadline = time.monotonic() + timeout_s
    pauses = _WAL_SWITCH_RETRY.delays()
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                raise
            time.sleep(next(pauses))


def _install_sqlite_hooks(engine: Engine, *, busy_timeout_ms: int) -> None:
    memory = is_memory_sqlite(engine.url)

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; the "begin" hook owns it.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                _use_wal(cursor, timeout_s=busy_timeout_ms / 1000)
            # FULL: a committed ledger row survives power loss, not just a crash.
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    def on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):  # pragma: no cover
            raise ValueError(f"bad SQLite begin mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)


def _install_postgres_begin(engine: Engine) -> None:
    """Open each transaction with ``PG_BEGIN[mode]``; the driver, in autocommit, sends
    ``COMMIT`` or ``ROLLBACK`` when SQLAlchemy ends a transaction the server has open."""

    def on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "write")
        statement = PG_BEGIN[mode]
        if statement is not None:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute(statement)  # no parameters: one simple query, one round trip

    sa.event.listen(engine, "begin", on_begin)


PING_AFTER_IDLE_S = 1.0
"""Seconds a pooled PostgreSQL connection may sit unused before its next checkout pings it."""


def _install_idle_ping(engine: Engine) -> None:
    """Ping a pooled connection at checkout only if it sat idle ``PING_AFTER_IDLE_S``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip per transaction,
    about 20 of the 114 a sync took (a server a zone away answers in ~1 ms). A connection dies while
    it sits in the pool (a restart, a failover, an idle timeout, a dropped route), and a
    sync's transactions come in bursts a few ms apart around its wait: the first of a
    burst is pinged, the rest go straight to work. A ping that meets a dead connection
    makes the pool replace it, as ``pool_pre_ping`` does (SQLAlchemy's documented custom
    pessimistic handling); a statement that meets one is a store error, as it would be
    had the server gone a moment after a ping.
    """
    dialect = engine.dialect

    def on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # a new connection, or one in use a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                raise sa_exc.DisconnectionError(str(exc)) from exc
            raise

    sa.event.listen(engine, "checkin", on_checkin)
    sa.event.listen(engine, "checkout", on_checkout)


def _hint(exc: BaseException, url: URL) -> str:
    text = str(getattr(exc, "orig", None) or exc).lower()
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and ("locked" in text or "busy" in text):
        return (
            "another process held the database lock longer than the busy timeout; retry, "
            "and use PostgreSQL if many workers write at once"
        )
    if sqlite and ("unable to open" in text or "readonly" in text or "read-only" in text):
        return "check that the state folder exists and is writable by this user"
    if sqlite and ("disk" in text and ("full" in text or "i/o" in text)):
        return "free disk space under the state folder, then rerun (finished work is kept)"
    if sqlite and "not a database" in text:
        return "the file is not a SQLite database; point the store URL elsewhere"
    if isinstance(exc, sa_exc.IntegrityError):
        return "the store rejected inconsistent data; this is a bug, please report it"
    if isinstance(exc, (sa_exc.ProgrammingError, sa_exc.NoSuchTableError)):
        return "the database schema is not what this version expects; is it a luigi-airbyte store?"
    if "password" in text or "authentication" in text:
        return "check the user name and password in the store URL"
    if "does not exist" in text and "database" in text:
        return "create the database first (createdb) or fix the database name in the URL"
    network = isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, OSError))
    if network and any(word in text for word in ("connect", "timeout", "refused", "resolve")):
        return "check that the database server is running and reachable at that address"
    return "check the metadata store URL and that the database is reachable and writable"


def describe(exc: BaseException, url: URL) -> str:
    """The driver's own message, first line only, scrubbed of the URL's secrets."""
    orig = getattr(exc, "orig", None)
    source = orig if isinstance(orig, BaseException) else exc
    lines = str(source).strip().splitlines() or [type(source).__name__]
    text = f"{lines[0]} ({type(source).__name__})"
    return mask_values(text, secrets_of(url))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def store_error(action: str, url: URL, exc: BaseException) -> StoreError:
    """A ``StoreError`` naming the (masked) URL, what failed, why, and what to do."""
    return StoreError(
        f"metadata store {mask_url(url)}: could not {action}: {describe(exc, url)}. "
        f"{_sentence(_hint(exc, url))}."
    )


@contextmanager
def translate_errors(action: str, url: URL) -> Iterator[None]:
    """Turn SQLAlchemy (and driver) errors raised inside the block into ``StoreError``."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise store_error(action, url, exc) from None
    except OSError as exc:  # e.g. creating the state folder
        raise store_error(action, url, exc) from None
