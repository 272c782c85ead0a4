"""False alarms of the counts check on clean seeded runs (issue 8, item 3; issue 9, item 1).

Each run is a sync of a seeded world (1-3 streams in four sync modes, 0-2 failed
attempts part way before success), in this process against the real sandbox over
loopback, judged by the pipeline's ``:counts`` code (``reconcile_sync_counts``) and
the outcome rules' lost-records warning. Nothing is lost or duplicated in these runs, so
every alarm is a false one.

The floor, measured in the same run: the same worlds judged the naive way (every
attempt summed, emitted against committed over all attempts), which is what the code
did before Airbyte's counting rules were followed.

Usage: python benchmarks/clean_counts.py [--runs 200] [--naive-runs 40]
Exits 1 when the rules raise any false alarm.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from integration.clean_runs import RunOutcome, clean_runs  # noqa: E402
from luigi_airbyte.airbyte.models import JobDetails, StreamStats  # noqa: E402
from luigi_airbyte.app import step_checks  # noqa: E402
from luigi_airbyte.sync import outcome, waiting  # noqa: E402


def _naive(
    details: JobDetails,
    modes: object = None,
    *,
    rows_synced: int | None = None,
    bytes_synced: int | None = None,
) -> outcome.Totals:
    """Every attempt summed per stream; emitted judged over all attempts."""
    summed: dict[str, StreamStats] = {}
    for a in details.stats.attempts:
        for s in a.streams:
            summed[s.name] = s if s.name not in summed else summed[s.name] + s
    streams = tuple(summed.values())
    return outcome.Totals(
        records_emitted=sum(s.records_emitted for s in streams),
        records_committed=sum(s.records_committed for s in streams),
        bytes_emitted=sum(s.bytes_emitted for s in streams),
        bytes_committed=sum(s.bytes_committed for s in streams),
        streams=streams,
        attempts=len(details.stats.attempts),
        final_streams=streams,
    )


@contextmanager
def naive_rules() -> Iterator[None]:
    saved = (step_checks.totals_from_details, waiting.totals_from_details)
    step_checks.totals_from_details = _naive  # type: ignore[assignment]
    waiting.totals_from_details = _naive  # type: ignore[assignment]
    try:
        yield
    finally:
        step_checks.totals_from_details, waiting.totals_from_details = saved


def measure(runs: int, tmp: Path) -> tuple[list[RunOutcome], float]:
    started = time.perf_counter()
    outcomes: list[RunOutcome] = []
    seed = 0
    while len(outcomes) < runs:
        outcomes += clean_runs(seed, tmp / f"s{seed}")
        seed += 1
    return outcomes[:runs], time.perf_counter() - started


def row(name: str, outcomes: list[RunOutcome], seconds: float) -> str:
    retried = sum(1 for o in outcomes if o.attempts > 1)
    alarmed = sum(1 for o in outcomes if o.alarms)
    return f"| {name} | {len(outcomes)} | {retried} | {alarmed} | {seconds:.0f} s |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--naive-runs", type=int, default=40)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rules, t_rules = measure(args.runs, tmp / "rules")
        with naive_rules():
            naive, t_naive = measure(args.naive_runs, tmp / "naive")
    print("| judged by | clean runs | of them retried | runs with a false alarm | time |")
    print("|---|---|---|---|---|")
    print(row("Airbyte's counting rules (this code)", rules, t_rules))
    print(row("floor: every attempt summed (before)", naive, t_naive))
    for o in rules:
        for alarm in o.alarms:
            print(f"FALSE ALARM seed {o.seed} sync {o.sync} {o.modes}: {alarm}")
    return 1 if any(o.alarms for o in rules) else 0


if __name__ == "__main__":
    raise SystemExit(main())
