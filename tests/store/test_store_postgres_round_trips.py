"""What a sync costs a PostgreSQL store in round trips (issue 10, at scale on a shared store).

A managed PostgreSQL a zone away answers in ~1 ms, and a sync's store work sits on its
path: at 114 round trips a sync (about 20 of them pings), a run of 100 syncs of 1 s on 8
workers took 1.27-1.36x the sleep floor (``benchmarks/scale.py --store postgres
--store-rtt-ms 1``; 1.06-1.08x on SQLite). Counted here from libpq's own trace of every
connection the run opens: one ``ReadyForQuery`` ends each round trip.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console

from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store import Store
from luigi_airbyte.store.engine import PING_AFTER_IDLE_S
from luigi_airbyte.tasks.context import clear_runtimes
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc)


class Wire:
    """libpq's trace of every PostgreSQL connection opened while it is installed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: list[Any] = []

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        from psycopg import pq

        # open while the connection lives: libpq writes every message it sends or reads
        trace = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w", dir=self.folder, suffix=".trace", delete=False
        )
        self._files.append(trace)
        dbapi_conn.pgconn.trace(trace.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def lines(self) -> list[str]:
        for trace in self._files:
            trace.flush()
        return [
            line
            for trace in self._files
            for line in Path(trace.name).read_text(encoding="utf-8").splitlines()
        ]

    def round_trips(self) -> int:
        return sum(1 for line in self.lines() if line.startswith("B\t") and "ReadyForQuery" in line)

    def pings(self) -> int:
        return sum(1 for line in self.lines() if line.startswith("F\t") and 'Query\t ";"' in line)

    def __enter__(self) -> Wire:
        sa.event.listen(sa.engine.Engine, "connect", self._on_connect)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "connect", self._on_connect)


def _world(n: int, root: Path) -> dict[str, Any]:
    return {
        "workspaces": [{"name": "w"}],
        "sources": [{"name": "gen", "type": "generator", "streams": [{"name": "rows"}]}],
        "destinations": [{"name": "wh", "type": "duckdb", "path": str(root / "wh.duckdb")}],
        "connections": [
            {
                "name": f"conn-{i}",
                "source": "gen",
                "destination": "wh",
                "streams": [],
                "job_duration_seconds": 0.2,
            }
            for i in range(n)
        ],
        "applications": [{"name": "t", "client_id": "cid", "client_secret": "sec"}],
        "settings": {"max_concurrent_jobs": 100},
    }


def _pipeline(root: Path, url: str, store_url: str, n: int) -> Path:
    steps = "\n".join(f"      - {{sync: s{i}, connection: conn-{i}}}" for i in range(n))
    path = root / "pipeline.yaml"
    path.write_text(
        f"""\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: cid, client_secret: "env:RT_TEST_SECRET"}}
store: {{url: "{store_url}"}}
state_dir: state
poll: {{interval: 1s}}
owners:
  data: {{alerts: ["jsonl:{root / "alerts.jsonl"}"]}}
pipelines:
  p:
    owner: data
    steps:
{steps}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def run_syncs(
    tmp_path: Path, new_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[int], Wire]]:
    """``run_syncs(n)``: a run of ``n`` syncs in this process (one worker) on a fresh
    PostgreSQL store, every connection it opens traced."""
    monkeypatch.setenv("RT_TEST_SECRET", "sec")
    sandboxes: list[Sandbox] = []

    def run(n: int) -> Wire:
        root = tmp_path / f"run{n}"
        root.mkdir()
        sandbox = Sandbox(_world(n, root))
        sandbox.start()
        sandboxes.append(sandbox)
        path = _pipeline(root, sandbox.url, new_database("postgresql"), n)
        monkeypatch.chdir(root)
        with Wire(root) as wire, open(os.devnull, "w") as quiet:
            code, _ = execute_run(
                path,
                run_date=dt.date(2026, 11, 24),
                skip_preflight=True,
                console=Console(file=quiet),
                as_json=True,
            )
            clear_runtimes()
        assert code == 0
        return wire

    yield run
    for sandbox in sandboxes:
        sandbox.stop()


def test_a_sync_costs_the_store_at_most_55_round_trips(run_syncs: Callable[[int], Wire]) -> None:
    one, five = run_syncs(1), run_syncs(5)
    per_sync = (five.round_trips() - one.round_trips()) / 4
    # 114 before, 63 in the thirteenth session, 51 now: a ping at every checkout, BEGIN
    # and COMMIT around each one-statement read or write, a step's change read back
    # three times, a SET LOCAL in a round trip of its own
    assert per_sync <= 55, per_sync
    assert (five.pings() - one.pings()) / 4 <= 2  # 22 a sync with a ping per checkout


def test_a_connection_dead_while_idle_in_the_pool_is_replaced(
    pg_server: PostgresServer, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    store = Store(new_database("postgresql")).open()
    try:
        run_id = store.start_run("p", run_date=T0.date())
        with store.query("my backend") as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        pg_server.execute("luigi_airbyte", f"SELECT pg_terminate_backend({pid})")
        time.sleep(PING_AFTER_IDLE_S + 0.1)
        # the pooled connection is dead: its checkout pings it and the pool connects anew
        store.upsert_step(run_id, "s", kind="sync", status="running", started_at=T0)
        assert store.step_status(run_id, "s") == "running"
        with store.query("my backend") as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    finally:
        store.close()


@contextmanager
def _traced(url: str, folder: Path) -> Iterator[tuple[Store, str, Wire]]:
    """A store with one run recorded, opened again so that every connection is traced."""
    store = Store(url).open()
    run_id = store.start_run("p", run_date=T0.date())
    store.close()
    with Wire(folder) as wire:
        store = Store(url).open()
        try:
            yield store, run_id, wire
        finally:
            store.close()


def test_a_burst_of_transactions_pings_only_its_first(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    with _traced(new_database("postgresql"), tmp_path) as (store, run_id, wire):
        for i in range(5):
            store.upsert_step(run_id, f"s{i}", kind="sync", status="running", started_at=T0)
        assert wire.pings() == 0
        time.sleep(PING_AFTER_IDLE_S + 0.1)
        store.step_status(run_id, "s0")
        store.step_status(run_id, "s1")
        assert wire.pings() == 1


def test_a_query_s_autocommit_does_not_outlive_it(new_database: Callable[[str], str]) -> None:
    """The connection goes back to the pool in transactions: a write that fails after a
    query on the same pooled connection leaves nothing behind."""
    store = Store(new_database("postgresql")).open()
    try:
        run_id = store.start_run("p", run_date=T0.date())
        assert store.step_status(run_id, "s") is None  # a query: autocommit on this connection
        with pytest.raises(RuntimeError), store.begin("write, then fail") as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO steps (run_id, step_name, kind, status) "
                    "VALUES (:run_id, 's', 'sync', 'running')"
                ),
                {"run_id": run_id},
            )
            raise RuntimeError("boom")
        assert store.step_status(run_id, "s") is None
    finally:
        store.close()


def _setting(conn: sa.Connection, name: str) -> str:
    return str(conn.exec_driver_sql(f"SHOW {name}").scalar_one())


def test_only_the_progress_record_commits_without_waiting_for_the_disk(
    new_database: Callable[[str], str],
) -> None:
    """The ledger, the claims and the run's start and finish wait for the disk; step rows
    and events do not (``Store.begin``'s ``durable``), and that setting ends with their
    transaction: the next writer on the same pooled connection waits again. All on one
    connection: a pool of its own for the progress record held two per worker process."""
    # The test server commits without waiting for its disk: ask for the usual default.
    url = f"{new_database('postgresql')}%20-csynchronous_commit%3Don&application_name=durability"
    store = Store(url).open()
    try:
        for _ in range(2):
            with store.begin("progress", durable=False) as conn:
                assert _setting(conn, "synchronous_commit") == "off"
                assert _setting(conn, "transaction_isolation") == "read committed"
            with store.begin("durable") as conn:
                assert _setting(conn, "synchronous_commit") == "on"
                assert _setting(conn, "transaction_isolation") == "read committed"
            with store.write("durable, one statement") as conn:
                assert _setting(conn, "synchronous_commit") == "on"
            with store.read("a snapshot") as conn:
                assert _setting(conn, "transaction_isolation") == "repeatable read"
            with store.query("a read") as conn:
                assert _setting(conn, "synchronous_commit") == "on"
        with store.query("count this store's connections") as conn:
            held = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'durability'"
            )
            assert held.scalar_one() == 1
    finally:
        store.close()


def test_a_write_of_one_statement_is_one_round_trip(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    """A one-statement write (the run's heartbeat) runs without BEGIN and COMMIT, and a
    progress transaction sends its SET LOCAL with its BEGIN: they were 3 and 4 round trips."""
    with _traced(new_database("postgresql"), tmp_path) as (store, run_id, wire):
        store.heartbeat(run_id)
        store.add_event(run_id, "x")
        before = wire.round_trips()
        assert store.heartbeat(run_id)
        assert wire.round_trips() - before == 1
        store.add_event(run_id, "y", fields={"n": 1})
        assert wire.round_trips() - before == 1 + 3  # BEGIN and SET LOCAL, INSERT, COMMIT
        assert [e.name for e in store.events(run_id)] == ["x", "y"]
