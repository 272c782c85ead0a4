"""Simulate poll strategies: detection latency vs requests per job. No server, no sleeping.

Model (seeded, so every run prints the same table):

* each simulated connection has a typical duration ``mu`` drawn uniformly from 1-60 s;
* one run takes ``mu * exp(N(0, sigma))`` seconds; with probability ``--outliers`` it
  overruns by a further factor of 1.5-3 (a slow source, a retried attempt);
* the strategy sees the 10 previous runs of the same connection as Airbyte reports them
  (``duration`` is whole seconds), reduced to median and robust spread exactly as
  ``SyncRunner`` does (``history_duration_stats``);
* the job starts at t=0; the runner sleeps ``next_delay`` and then polls; latency is the
  time from the job's true end to the first poll that sees it terminal.

Network round trips are ignored, so the numbers are a lower bound for every strategy alike.
A benchmark against a real server comes later; tests never assert on these numbers.

Usage: python benchmarks/polling_sim.py [--trials 5000] [--seed 7] [--sigma 0.1 0.25]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from dataclasses import dataclass

from luigi_airbyte.airbyte.models import JobStatus
from luigi_airbyte.sync.polling import (
    AdaptivePolling,
    FixedInterval,
    PollState,
    PollStrategy,
    duration_stats,
)

HISTORY = 10
MAX_POLLS = 100_000


@dataclass(frozen=True)
class Trial:
    duration: float
    expected: float | None
    spread: float | None


@dataclass(frozen=True)
class Outcome:
    latency: float
    requests: int


def make_trials(n: int, seed: int, sigma: float, outliers: float) -> list[Trial]:
    rng = random.Random(seed)

    def one_run(mu: float) -> float:
        d = mu * math.exp(rng.gauss(0.0, sigma))
        if rng.random() < outliers:
            d *= rng.uniform(1.5, 3.0)
        return max(0.2, d)

    trials = []
    for _ in range(n):
        mu = rng.uniform(1.0, 60.0)
        history = [max(1.0, float(round(one_run(mu)))) for _ in range(HISTORY)]
        stats = duration_stats(history)
        assert stats is not None
        trials.append(Trial(one_run(mu), stats.expected, stats.spread))
    return trials


def simulate(strategy: PollStrategy, trial: Trial, *, use_history: bool) -> Outcome:
    t = 0.0
    polls = 0
    while polls < MAX_POLLS:
        state = PollState(
            elapsed=t,
            polls=polls,
            expected=trial.expected if use_history else None,
            last_status=JobStatus.RUNNING,
            spread=trial.spread if use_history else None,
        )
        t += strategy.next_delay(state)
        polls += 1
        if t >= trial.duration:
            return Outcome(t - trial.duration, polls)
    raise RuntimeError("strategy never saw the job end")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def summarise(name: str, outcomes: list[Outcome]) -> tuple[str, float, float, float, int]:
    lat = [o.latency for o in outcomes]
    req = [o.requests for o in outcomes]
    return (name, statistics.median(lat), percentile(lat, 0.95), statistics.fmean(req), max(req))


def table(trials: list[Trial], title: str) -> list[tuple[str, float, float, float, int]]:
    strategies: list[tuple[str, PollStrategy, bool]] = [
        ("adaptive (history)", AdaptivePolling(), True),
        ("adaptive (no history)", AdaptivePolling(), False),
        ("fixed 1 s", FixedInterval(1.0), False),
        ("fixed 3 s", FixedInterval(3.0), False),
        ("fixed 10 s", FixedInterval(10.0), False),
        ("fixed 15 s", FixedInterval(15.0), False),
    ]
    rows = [
        summarise(name, [simulate(s, t, use_history=h) for t in trials])
        for name, s, h in strategies
    ]
    print(title)
    print(
        f"{'strategy':<24}{'latency p50 s':>14}{'latency p95 s':>15}{'req/job':>10}{'max req':>9}"
    )
    for name, p50, p95, mean_req, max_req in rows:
        print(f"{name:<24}{p50:>14.2f}{p95:>15.2f}{mean_req:>10.1f}{max_req:>9d}")
    print()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sigma", type=float, nargs="+", default=[0.1, 0.25])
    parser.add_argument("--outliers", type=float, default=0.05)
    args = parser.parse_args()

    verdicts = []
    for sigma in args.sigma:
        trials = make_trials(args.trials, args.seed, sigma, args.outliers)
        rows = table(
            trials,
            f"durations 1-60 s, run-to-run sigma {sigma:.2f}, outliers {args.outliers:.0%}, "
            f"{args.trials} jobs, seed {args.seed}",
        )
        by_name = {r[0]: r for r in rows}
        adaptive, fixed3 = by_name["adaptive (history)"], by_name["fixed 3 s"]
        met = adaptive[1] <= 0.5 and adaptive[3] < fixed3[3]
        verdicts.append(
            f"sigma {sigma:.2f}: adaptive p50 {adaptive[1]:.2f} s (target <= 0.50), "
            f"{adaptive[3]:.1f} req/job vs fixed 3 s {fixed3[3]:.1f} -> "
            f"{'target met' if met else 'target NOT met'}"
        )
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
