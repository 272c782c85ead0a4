"""The claim race, long sweep (``make hostile``): 2-4 processes race ``trigger_or_attach``
on one run key against the sandbox, on SQLite and on PostgreSQL, with the ledger's lock on
(the product) and off (the ledger as a memo, as before the claim: the baseline, measured in
the same run).

Usage: python benchmarks/claim_race.py [--trials-sqlite N] [--trials-pg N] [--lanes N]
       [--seed S] [--no-baseline]

Prints one table: trials, racers, duplicate jobs (jobs beyond one per run key, counted by
the sandbox), racers that ended on another job than their trial's other racers, errors,
how the later racers' starts fell against the first one's POST and job, and time. See
tests/integration/claim_race.py for the trial design.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from integration.claim_race import PHASES, RaceReport, run_race, start_race_sandbox  # noqa: E402
from pg_server import PostgresServer, PostgresUnavailable  # noqa: E402


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _row(label: str, report: RaceReport, load: str) -> str:
    phases = "/".join(str(report.phases[p]) for p in PHASES)
    return (
        f"{label:<26} {report.trials:>6} {report.racers:>6} {report.duplicates:>5} "
        f"{report.wrong_job:>6} {len(report.errors):>6} {phases:>17} {report.seconds:>7.1f} "
        f"{load:>6}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials-sqlite", type=int, default=1000)
    parser.add_argument("--trials-pg", type=int, default=400)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    modes = [False] if args.no_baseline else [False, True]
    rows: list[str] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="claim-race-") as tmp:
        base = Path(tmp)
        try:
            pg: PostgresServer | None = PostgresServer.start()
        except PostgresUnavailable as exc:
            print(f"PostgreSQL unavailable, skipped: {exc}", file=sys.stderr)
            pg = None
        try:
            backends: list[tuple[str, int]] = [("sqlite", args.trials_sqlite)]
            if pg is not None:
                backends.append(("postgresql", args.trials_pg))
            for backend, trials in backends:
                for memo in modes:
                    tag = f"{backend}-{'memo' if memo else 'lock'}"
                    folder = base / tag
                    folder.mkdir()
                    if backend == "sqlite":
                        url = f"sqlite:///{folder / 'metadata.db'}"
                    else:
                        assert pg is not None
                        url = pg.create_database(tag.replace("-", "_"))
                    sb = start_race_sandbox(folder, args.lanes)
                    try:
                        report = run_race(
                            sb,
                            url,
                            trials=trials,
                            lanes=args.lanes,
                            seed=args.seed,
                            log_path=folder / "racers.log",
                            memo=memo,
                        )
                    finally:
                        sb.stop()
                    label = f"{backend}, {'memo (no lock)' if memo else 'claim (lock)'}"
                    rows.append(_row(label, report, _load()))
                    if not memo and (report.duplicates or report.wrong_job or report.errors):
                        failed = True
                        for err in report.errors[:5]:
                            print(err, file=sys.stderr)
        finally:
            if pg is not None:
                pg.stop()

    print(
        f"claim race: 2-4 racer processes per trial, {args.lanes} lanes at once, seed "
        f"{args.seed}; phases = later racers starting before/during/after the first's "
        "POST/after its job finished"
    )
    print(
        f"{'ledger':<26} {'trials':>6} {'racers':>6} {'dups':>5} {'wrong':>6} {'errors':>6} "
        f"{'phases':>17} {'time s':>7} {'load1':>6}"
    )
    for row in rows:
        print(row)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
