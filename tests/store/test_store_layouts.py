"""Released migrations stay as released: tables now come from ``store/layouts.py``, which
``schema.py`` also builds on, so an edit there must not change what an old migration does.

``released_v1_v3_sqlite.sql`` is the SQLite DDL that migrations 1 to 3 wrote before the
table layouts were shared (the 0.x releases); a fresh database migrated to version 3 must
hold exactly it.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from luigi_airbyte.store import MIGRATIONS, migrate

RELEASED = Path(__file__).with_name("released_v1_v3_sqlite.sql")


def _ddl(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND name != 'schema_version' ORDER BY name"
            )
        ).all()
    return [_lines(sql) for (sql,) in rows]


def _lines(sql: str) -> str:
    return "\n".join(line.rstrip() for line in sql.strip().splitlines())


def test_migrations_1_to_3_write_the_released_ddl(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'released.db'}")
    try:
        migrate(engine, MIGRATIONS[:3])
        found = _ddl(engine)
    finally:
        engine.dispose()
    released = [_lines(block) for block in RELEASED.read_text().split(";\n") if block.strip()]
    assert found == released
