"""Two full ``luigi-airbyte run`` processes of the same pipeline and date on the local
scheduler (no luigid, so no task lock): still exactly one Airbyte job per connection.

Issue 7, bug 1: the second process scheduled a sync before the first one's job finished,
then posted a new job for a run key whose ledger row already said ``succeeded``. Here the
runs start together or staggered by a seeded delay, so that one finishes a sync while the
other is scheduling it.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

import pytest

from e2e.e2e_helpers import CRM, EVENTS, Project, finish, jobs_for

SEEDS = range(4)


def _steps() -> list[dict[str, object]]:
    return [
        {"sync": "crm", "connection": CRM},
        {"sync": "events", "connection": EVENTS},
        {
            "command": {"argv": [sys.executable, "-c", "print('report done')"]},
            "name": "report",
            "after": ["crm", "events"],
        },
    ]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_two_runs_of_one_date_make_one_job_per_connection(
    make_project: Callable[..., Project], seed: int
) -> None:
    rng = random.Random(seed)
    # Seed 0 starts both together; the others stagger the second run by up to ~2.5 s,
    # across the first one's CLI start-up, its job (1 s) and its end.
    delay = 0.0 if seed == 0 else rng.uniform(0.5, 2.5)
    project = make_project(job_seconds=1.0)
    project.write(_steps())
    first = project.start("--json")
    time.sleep(delay)
    second = project.start("--json")
    results = [finish(first), finish(second)]

    for result in results:
        assert result.returncode == 0, result
    assert len(jobs_for(project.sandbox, CRM)) == 1, (delay, results)
    assert len(jobs_for(project.sandbox, EVENTS)) == 1, (delay, results)
