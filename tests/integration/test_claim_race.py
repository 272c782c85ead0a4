"""The claim race in ``make test``: 200 seeded trials on SQLite and 50 on PostgreSQL of 2-4
processes racing ``trigger_or_attach`` on one run key against the sandbox; 0 duplicates.

The long sweep is ``make hostile`` (benchmarks/claim_race.py), figures in RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.claim_race import PHASES, run_race, start_race_sandbox
from luigi_airbyte.sandbox import Sandbox
from pg_server import PostgresServer

LANES = 8


@pytest.fixture
def race_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    base = tmp_path / "sandbox"
    base.mkdir()
    sb = start_race_sandbox(base, LANES)
    try:
        yield sb
    finally:
        sb.stop()


def _check(report: object, trials: int) -> None:
    from integration.claim_race import RaceReport

    assert isinstance(report, RaceReport)
    print(
        f"\nclaim race: {report.trials} trials, {report.racers} racers, "
        f"{report.duplicates} duplicates, {report.seconds:.1f}s; how={dict(report.how)}; "
        f"phases={dict(report.phases)}"
    )
    assert report.errors == []
    assert report.trials == trials
    assert report.duplicates == 0
    assert report.wrong_job == 0


def test_claim_race_on_sqlite(race_sandbox: Sandbox, tmp_path: Path) -> None:
    trials = 200
    report = run_race(
        race_sandbox,
        f"sqlite:///{tmp_path / 'metadata.db'}",
        trials=trials,
        lanes=LANES,
        seed=1,
        log_path=tmp_path / "racers.log",
    )
    _check(report, trials)
    # The seeds reached every interleaving, each more than once.
    assert all(report.phases[p] >= 2 for p in PHASES), report.phases


@pytest.mark.postgres
def test_claim_race_on_postgresql(
    race_sandbox: Sandbox, tmp_path: Path, pg_server: PostgresServer
) -> None:
    url = pg_server.create_database("claims")
    trials = 50
    report = run_race(
        race_sandbox, url, trials=trials, lanes=LANES, seed=2, log_path=tmp_path / "racers.log"
    )
    _check(report, trials)
    assert sum(report.phases[p] > 0 for p in PHASES) >= 3, report.phases
