"""The job watcher's listing rule on a fake clock: listings and detection in four regimes.

Runs the real ``JobWatcher`` (its ``_plan`` and ``_tick``) single-threaded on a
``FakeClock`` against an in-memory job listing, with tasks that ask as ``SyncRunner`` does
(``AdaptivePolling`` decides each ``due_in``). No thread, no socket, no real time: a run of
1,000 syncs takes seconds, so rules and constants can be compared before a real benchmark.
Seeded jitter (job overhead 17-67 ms, 30-300 ms between a task's end and its successor's
trigger, asks up to 30 ms late) stands in for forks and the CPU; with it, the pre-``dropgap``
rule predicts 593 listings for 1,000 syncs on 8 workers where ``scale.py`` measured 586.

Regimes:

- ``polling``: 60 tasks, one job each of 1-60 s with history (as ``polling.py``'s two
  watcher rows, every push dropped): detection latency (end -> task learns it) and
  listings per job; per-job adaptive polling (each task its own listing, no budget) beside
  it as the reference; "late" is how long after its due time a "still running" answer came;
- ``inflight``: 50 jobs of 40 s, no history (as ``inflight.py``): listings a second
  between 5 and 20 s;
- ``runs``: 20 syncs of 1 s on 8 workers without and with history (as
  ``tests/e2e/test_e2e_requests_per_sync.py``), 100 and 1,000 (as ``scale.py``): listings
  per sync, mean detection latency, wall.

Usage: python benchmarks/watcher_sim.py [--set capacity=3 end_credit=0.25 ...]
``--set`` passes ``JobWatcher`` keyword arguments to the "new" rule. Prints the rule before
``dropgap`` (ticks 0.25 s apart while up to 8 tasks wait, 0.6 s with more, 3 at 50 ms after
a quiet spell) beside today's. A model, not a measurement: the real figures are
``polling.py``, ``inflight.py`` and ``scale.py``.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.sync import AdaptivePolling, FakeClock
from luigi_airbyte.sync.polling import PollState
from luigi_airbyte.sync.watcher import _LIST_RETRY, TOGETHER, JobWatcher

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
CONN = "c"


class OldRule(JobWatcher):
    """The listing rule before ``dropgap``: a spacing chosen by how many tasks wait."""

    burst = 3

    def _plan(self, now: float) -> list[str] | float:
        self._forget(now)
        waiting = [w for w in self._jobs.values() if w.asks]
        if not waiting:
            self.burst = 3
            return now + 1.0
        dues = [a.due for w in waiting for a in w.asks]
        last = max(d for d in dues if d <= min(dues) + TOGETHER)
        gap = 0.25 if len(waiting) <= 8 else 0.6
        if self.burst > 0:
            gap = min(gap, 0.05)
        at = max(last, self._last_tick + gap)
        if self._errors:
            at = max(at, self._last_tick + _LIST_RETRY.delay(self._errors))
        if at > now:
            return at
        self.burst = max(0, self.burst - 1)
        return sorted({w.scope for w in waiting if min(a.due for a in w.asks) <= now})


class Jobs:
    """The listing: each job runs from its start to its end on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.spans: dict[int, tuple[float, float]] = {}
        self.times: list[float] = []  # when each listing was made

    def job(self, job_id: int) -> Job:
        start, end = self.spans[job_id]
        done = self.clock.monotonic() >= end
        return Job(
            job_id=job_id,
            status=JobStatus.SUCCEEDED if done else JobStatus.RUNNING,
            job_type=JobType.SYNC,
            connection_id=CONN,
            start_time=T0 + timedelta(seconds=start),
            last_updated_at=T0 + timedelta(seconds=end if done else start),
            raw_status="succeeded" if done else "running",
        )

    def get_job(self, job_id: int, /) -> Job:
        return self.job(job_id)

    def list_job_details(self, **kw: Any) -> None:
        return None  # no config API: the watcher lists with ``list_jobs``

    def list_jobs(self, connection_id: str | None = None, **kw: Any) -> Iterator[Job]:
        self.times.append(self.clock.monotonic())
        since = kw.get("updated_at_start")
        jobs = [self.job(j) for j in self.spans if connection_id in (None, str(j))]
        return iter([j for j in jobs if since is None or j.last_updated_at >= since])


def simulate(
    rule: type[JobWatcher],
    plan: list[tuple[float, float | None, float | None]],
    syncs: int,
    *,
    per_job: bool = False,
    **kw: Any,
) -> dict[str, float]:
    """``plan``: per worker (first trigger, job seconds or None for 1 s in a loop, expected
    duration or None). One sync per worker when a duration is given, else ``syncs`` syncs
    of 1 s shared by the workers in a loop."""
    rng = random.Random(7)
    clock = FakeClock()
    jobs = Jobs(clock)
    watcher = rule(jobs, clock=clock, **kw)
    strategy = AdaptivePolling()
    order = itertools.count()
    events: list[tuple[float, int, str, Any]] = []
    pending: dict[int, tuple[Any, Any, int, int, float]] = {}
    started = 0
    latency: list[float] = []
    late: list[float] = []
    learnt: list[float] = []

    def ask(worker: int, job_id: int, t: float, polls: int, trigger: float) -> None:
        expected = plan[worker][2]
        state = PollState(
            elapsed=t - trigger,
            polls=polls,
            expected=expected,
            spread=None if expected is None else 0.0,
        )
        due_in = strategy.next_delay(state)
        heapq.heappush(
            events, (t + rng.uniform(0, 0.03), next(order), "ask", (worker, job_id, due_in, polls))
        )

    def trigger(worker: int, t: float) -> None:
        nonlocal started
        if started >= syncs:
            return
        started += 1
        seconds = plan[worker][1] or 1.0
        jobs.spans[started] = (t, t + seconds + 0.017 + rng.uniform(0, 0.05))
        ask(worker, started, t, 0, t)

    for worker, (first, _, _) in enumerate(plan):
        heapq.heappush(events, (first, next(order), "trigger", worker))
    while True:
        now = clock.monotonic()
        while events and events[0][0] <= now + 1e-9:
            _, _, kind, what = heapq.heappop(events)
            if kind == "trigger":
                trigger(what, now)
                continue
            worker, job_id, due_in, polls = what
            scope = f"conn:{job_id}" if per_job else "ws:W"
            with watcher._cond:
                seen = Job(
                    job_id=job_id,
                    status=JobStatus.RUNNING,
                    job_type=JobType.SYNC,
                    connection_id=CONN,
                    start_time=T0 + timedelta(seconds=jobs.spans[job_id][0]),
                    last_updated_at=T0 + timedelta(seconds=jobs.spans[job_id][0]),
                )
                watched = watcher._watch(seen, scope, now)
                request = watcher._ask(watched, now, now + due_in)
            pending[worker] = (watched, request, job_id, polls, jobs.spans[job_id][0])
        if not pending and not events:
            break
        with watcher._cond:
            planned = watcher._plan(now)
        if isinstance(planned, list):
            watcher._tick(planned)
        for worker, (watched, request, job_id, polls, begun) in list(pending.items()):
            # as ``JobWatcher.next``: an end at once, "running" at the due time
            if watched.job.status.is_terminal:
                latency.append(now - jobs.spans[job_id][1])
                learnt.append(now)
            elif watched.covers(request) and now >= request.due - 1e-9:
                late.append(now - request.due)
            else:
                continue
            watched.asks.remove(request)
            del pending[worker]
            if watched.job.status.is_terminal:
                if plan[worker][1] is None:
                    next_at = now + rng.uniform(0.03, 0.3)
                    heapq.heappush(events, (next_at, next(order), "trigger", worker))
            else:
                ask(worker, job_id, now, polls + 1, begun)
        if isinstance(planned, list):
            continue
        held = [r.due for w, r, *_ in pending.values() if w.covers(r) and r.due > now]
        wake = min([planned] + held + ([events[0][0]] if events else []))
        clock.advance(max(wake - now, 1e-6))
    latency.sort()
    late.sort()
    window = [t for t in jobs.times if 5.0 <= t < 20.0]
    return {
        "listings": len(jobs.times),
        "per_sync": len(jobs.times) / syncs,
        "latency_p50": statistics.median(latency),
        "latency_mean": statistics.fmean(latency),
        "late_mean": statistics.fmean(late) if late else 0.0,
        "late_p90": late[int(0.9 * len(late))] if late else 0.0,
        "wall": max(learnt),
        "rps_5_20": len(window) / 15.0,
    }


def regimes() -> list[tuple[str, list[tuple[float, float | None, float | None]], int]]:
    rng = random.Random(7)
    polling = []
    for k in range(60):  # two tasks per duration slot, as polling.py's two watcher rows
        mu = 1 + 59 * (k // 2 + rng.random()) / 30
        polling.append((3 * mu + rng.uniform(0, 0.2), mu, mu))
    loop = [(0.02 * k, None, None) for k in range(8)]
    loop_history = [(0.02 * k, None, 1.0) for k in range(8)]
    return [
        ("polling", polling, 60),
        ("inflight", [(0.02 * k, 40.0, None) for k in range(50)], 50),
        ("runs: 20 on 8, no history", loop, 20),
        ("runs: 20 on 8, history", loop_history, 20),
        ("runs: 100 on 8", loop, 100),
        ("runs: 1,000 on 8", loop, 1000),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    kw = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
    rows = [("before dropgap", OldRule, {}), ("today" + (f" {kw}" if kw else ""), JobWatcher, kw)]
    for name, plan, syncs in regimes():
        print(f"{name}")
        if name == "polling":
            ref = simulate(
                JobWatcher,
                plan,
                syncs,
                per_job=True,
                rate=1e6,
                capacity=1e6,
                min_gap=0.0,
                merge_gap=0.0,
            )
            print(
                f"  {'per-job adaptive (reference)':<34} latency p50 {ref['latency_p50']:.3f} s,"
                f" mean {ref['latency_mean']:.3f} s, {ref['per_sync']:.1f} GET/job"
            )
        for label, rule, options in rows:
            r = simulate(rule, plan, syncs, **options)
            if name == "polling":
                text = (
                    f"latency p50 {r['latency_p50']:.3f} s, mean {r['latency_mean']:.3f} s, "
                    f"{r['per_sync']:.1f} listings/job, 'still running' late mean "
                    f"{r['late_mean']:.3f} s, p90 {r['late_p90']:.3f} s"
                )
            elif name == "inflight":
                text = f"{r['rps_5_20']:.2f} listings/s while waiting"
            else:
                text = (
                    f"{r['listings']} listings ({r['per_sync']:.2f}/sync), latency mean "
                    f"{r['latency_mean']:.3f} s, wall {r['wall']:.1f} s"
                )
            print(f"  {label:<34} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
