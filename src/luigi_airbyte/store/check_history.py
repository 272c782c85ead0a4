"""Check results across runs: what a date's checks last said about a step."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from luigi_airbyte.store.run_records import CheckRecord
from luigi_airbyte.store.schema import check_results, runs

if TYPE_CHECKING:
    from luigi_airbyte.store.database import Store


def latest_checks(
    store: Store, pipeline: str, step_name: str, run_date: date
) -> tuple[CheckRecord, ...]:
    """The check results of ``step_name`` from the newest run of ``pipeline`` for
    ``run_date`` that recorded any (what a reload judges a load by)."""
    newest = (
        step_on_date(check_results, check_results.c.run_id, pipeline, step_name, run_date)
        .order_by(check_results.c.id.desc())
        .limit(1)
    )
    with store.read(f"look up the latest checks of step {step_name!r}") as conn:
        run_id = conn.execute(newest).scalar()
    if run_id is None:
        return ()
    return store.get_run(run_id).checks_for(step_name)


def step_on_date(
    table: sa.Table, column: Any, pipeline: str, step_name: str, run_date: date
) -> sa.Select[Any]:
    """``column`` of the rows ``table`` (a step-scoped table: steps, check_results...)
    holds for ``step_name`` in the runs of ``pipeline`` for ``run_date``."""
    return (
        sa.select(column)
        .select_from(table.join(runs, runs.c.run_id == table.c.run_id))
        .where(
            (runs.c.pipeline == pipeline)
            & (runs.c.run_date == run_date)
            & (table.c.step_name == step_name)
        )
    )
