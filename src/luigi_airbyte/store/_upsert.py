"""The dialect's ``INSERT`` (with ``on_conflict_do_*``: both supported backends have it),
imported when first used: a SQLite store never loads SQLAlchemy's PostgreSQL dialect
(~20 ms of every command's start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(conn: sa.Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT INTO table`` in ``conn``'s dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
