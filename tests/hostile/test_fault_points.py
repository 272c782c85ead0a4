"""Each fault, at each point, on the first ``POST /jobs`` of a 3-sync pipeline run.

The random sweep (``test_fault_sweep``) meets these at random; here every (kind, point)
strikes the create once, deterministically, and the run must still end in the true state
with one job per run key and the store agreeing (or, if the run gives up, converge on a
fault-free re-run without a second job). Before the client's fix for answers cut short
without a length, ``truncate@unframed`` made a second job here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from faultproxy import POINTS, Fault
from hostile.hostile_helpers import run_trial

CASES = [(kind, point) for kind, points in POINTS.items() for point in points]


def _first_create(kind: str, point: str) -> Callable[[int, str, str], Fault | None]:
    done = False

    def script(index: int, method: str, path: str) -> Fault | None:
        nonlocal done
        if done or method != "POST" or not path.endswith("/jobs"):
            return None
        done = True
        return Fault(kind, point, 0.5)

    return script


@pytest.mark.parametrize(("kind", "point"), CASES)
def test_a_fault_on_the_first_create_still_ends_in_the_true_state(
    kind: str, point: str, tmp_path: Path
) -> None:
    # Seed 0 has no failing connection (see run_trial): every job truly succeeds.
    trial = run_trial(0, tmp_path, script=_first_create(kind, point))
    assert trial.verdict in ("direct", "rerun"), trial.describe()
    assert trial.stats["by_point"] == {f"{kind}@{point}": 1}, trial.describe()
    assert trial.stats["on_create"] == 1
