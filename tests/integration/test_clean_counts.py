"""30 seeded clean runs, retried attempts included: the counts check raises no false alarm.

The 200-run version is ``benchmarks/clean_counts.py`` (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

from integration.clean_runs import clean_runs


def test_thirty_clean_seeded_runs_raise_no_false_alarm(tmp_path: Path) -> None:
    outcomes = [o for seed in range(15) for o in clean_runs(seed, tmp_path / f"s{seed}")]
    assert len(outcomes) == 30
    retried = [o for o in outcomes if o.attempts > 1]
    assert len(retried) >= 10  # the point: jobs that needed another attempt
    modes = {m for o in outcomes for m in o.modes.values()}
    assert len(modes) == 4
    alarms = [(o.seed, o.sync, o.modes, a) for o in outcomes for a in o.alarms]
    assert alarms == []
