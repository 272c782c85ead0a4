"""Migrations: idempotent, atomic, concurrent-safe, refusing newer schemas, matching schema.py."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store import LATEST_VERSION, MIGRATIONS, Migration, Store, migrate
from luigi_airbyte.store.engine import create_store_engine, resolve_url
from luigi_airbyte.store.schema import metadata

WORKER = Path(__file__).with_name("store_worker.py")


def _engine(url: str) -> sa.Engine:
    return create_store_engine(resolve_url(url))


def test_open_migrates_to_latest_and_records_every_version(store_url: str) -> None:
    with Store(store_url) as store:
        assert store.schema_version() == LATEST_VERSION == len(MIGRATIONS)
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version, description FROM schema_version")).all()
    assert [r[0] for r in sorted(rows)] == [m.version for m in MIGRATIONS]
    assert all(r[1] for r in rows)


def test_migrate_is_idempotent(store_url: str) -> None:
    engine = _engine(store_url)
    try:
        assert migrate(engine) == (LATEST_VERSION, list(range(1, LATEST_VERSION + 1)))
        assert migrate(engine) == (LATEST_VERSION, [])
    finally:
        engine.dispose()
    for _ in range(2):
        with Store(store_url) as store:
            assert store.schema_version() == LATEST_VERSION


def test_migrated_database_matches_schema_py(store_url: str) -> None:
    """The frozen migrations and schema.py describe the same tables, columns and indexes."""
    engine = _engine(store_url)
    try:
        migrate(engine)
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == set(metadata.tables)
        for table in metadata.tables.values():
            columns = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                if not column.primary_key:
                    assert columns[column.name]["nullable"] == column.nullable, (
                        f"{table.name}.{column.name}"
                    )
            indexes = {
                ix["name"]
                for ix in inspector.get_indexes(table.name)
                if not ix.get("duplicates_constraint")
            }
            assert indexes == {ix.name for ix in table.indexes}, table.name
            uniques = {u["name"] for u in inspector.get_unique_constraints(table.name)}
            expected = {c.name for c in table.constraints if isinstance(c, sa.UniqueConstraint)}
            assert expected <= uniques, table.name
    finally:
        engine.dispose()


def test_upgrade_from_version_1_keeps_data(store_url: str) -> None:
    engine = _engine(store_url)
    try:
        assert migrate(engine, MIGRATIONS[:1]) == (1, [1])
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO runs (run_id, pipeline, started_at, status) "
                    "VALUES ('r1', 'p', :at, 'succeeded')"
                ),
                {
                    "at": "2024-01-01 00:00:00.000000"
                    if engine.dialect.name == "sqlite"
                    else "2024-01-01T00:00:00Z"
                },
            )
            conn.execute(
                sa.text(
                    "INSERT INTO steps (run_id, step_name, kind, status, message) VALUES "
                    "('r1', 'crm', 'sync', 'failed', '[exit 5] Airbyte job 7 failed'), "
                    "('r1', 'note', 'check', 'succeeded', 'fine')"
                )
            )
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.schema_version() == LATEST_VERSION
        detail = store.get_run("r1")
        run = detail.run
        assert run.status == "succeeded" and run.message is None and run.identity is None
        store.finish_run("r1", "failed", 1, message="v2 column works")
        assert store.get_run("r1").run.message == "v2 column works"
        # v3: the [exit N] prefix became the step's exit_code column
        crm, note = detail.steps
        assert (crm.exit_code, crm.message) == (5, "Airbyte job 7 failed")
        assert (note.exit_code, note.message) == (None, "fine")
        assert run.heartbeat_at is None and run.pid is None


def test_failing_migration_rolls_back_everything(store_url: str) -> None:
    def broken(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("boom")

    engine = _engine(store_url)
    try:
        migrate(engine)
        with pytest.raises(RuntimeError, match="boom"):
            migrate(engine, (*MIGRATIONS, Migration(LATEST_VERSION + 1, "broken", broken)))
        assert not sa.inspect(engine).has_table("half_done")
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
        assert version == LATEST_VERSION
    finally:
        engine.dispose()


def test_newer_database_is_refused(store_url: str) -> None:
    with Store(store_url) as store, store.begin("fake a newer version") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO schema_version (version, description, applied_at) "
                "VALUES (99, 'from the future', :at)"
            ),
            {
                "at": "2030-01-01 00:00:00.000000"
                if store.dialect == "sqlite"
                else "2030-01-01T00:00:00Z"
            },
        )
    with pytest.raises(StoreError) as excinfo:
        Store(store_url).open()
    message = str(excinfo.value)
    assert "schema version 99" in message
    assert f"up to {LATEST_VERSION}" in message
    assert "Upgrade luigi-airbyte" in message
    assert excinfo.value.exit_code == 4


def test_migration_sequence_is_validated(store_url: str) -> None:
    engine = _engine(store_url)
    try:
        with pytest.raises(ValueError, match="without gaps"):
            migrate(engine, (MIGRATIONS[1],))
    finally:
        engine.dispose()


def test_migrations_are_numbered_and_described() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert all(m.description and len(m.description) <= 200 for m in MIGRATIONS)


def test_threads_with_own_engines_migrating_at_once(store_url: str) -> None:
    """Eight engines (eight connections) migrate the same empty database at once."""
    engines = [_engine(store_url) for _ in range(8)]
    barrier = threading.Barrier(len(engines))
    results: list[tuple[int, list[int]]] = []
    errors: list[BaseException] = []

    def work(engine: sa.Engine) -> None:
        try:
            barrier.wait()
            results.append(migrate(engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()
    assert errors == []
    assert {version for version, _ in results} == {LATEST_VERSION}
    applied = sorted(v for _, now in results for v in now)
    assert applied == list(range(1, LATEST_VERSION + 1))  # each version applied exactly once


def test_processes_migrating_at_once(store_url: str, tmp_path: Path) -> None:
    """Two processes open the same empty database at the same moment: both succeed."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), store_url, "open", str(tmp_path), "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == str(LATEST_VERSION)
    with Store(store_url) as store, store.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version FROM schema_version")).scalars().all()
    assert sorted(versions) == list(range(1, LATEST_VERSION + 1))


def test_version_3_records_who_the_run_acted_as(store_url: str) -> None:
    engine = _engine(store_url)
    try:
        assert migrate(engine, MIGRATIONS[:2]) == (2, [1, 2])
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.schema_version() >= 3
        run_id = store.start_run("p", host="ci-7", identity="client-abc")
        run = store.get_run(run_id).run
        assert (run.host, run.identity) == ("ci-7", "client-abc")
        assert store.history("p")[0].identity == "client-abc"
