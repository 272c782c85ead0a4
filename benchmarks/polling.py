"""Poll strategies against a real sandbox: detection latency and GET /jobs/{id} per job.

Every strategy polls real jobs on one in-process sandbox, all at the same time:

* job durations are seeded and stratified over ``--min-duration``..``--max-duration``
  (default 1-60 s): slot ``i`` of ``--jobs`` gets the same duration under every strategy,
  so the rows are paired;
* each (strategy, slot) pair has its own connection (Airbyte allows one running job per
  connection), with ``job_duration_seconds`` set in the world;
* history first: ``--history`` jobs run on every connection (started and awaited through
  the engine, not measured), so ``GET /jobs`` shows succeeded durations that the adaptive
  strategy reads; then one measured job per connection runs through ``SyncRunner.run``
  with the strategy under test (one runner and one ``AirbyteClient`` per job, one thread
  per connection);
* latency = time ``run`` returned minus the job's terminal time from
  ``GET /_sandbox/terminal-times``; GETs = ``GET /jobs/{id}`` of the measured job in
  ``GET /_sandbox/requests``. "poll lag" is the end of the poll that saw the terminal status
  minus the terminal time (what the strategy alone costs; the rest is the runner's
  post-terminal work: job details, outcome rules, ledger).

Sandbox jobs take exactly their configured duration plus a little overhead, run after run.
Real jobs vary; the row "adaptive, varied runs" gives each run of its connections a seeded
duration ``mu * exp(N(0, --jitter))`` to show what run-to-run variation costs. The engine has
no public per-job duration, so that row sets the connection's duration in the engine's
connection table between runs (``_set_duration``). Fixed intervals ignore history, so they
only run the steady durations.

Two more rows wait through the host's job watcher (``luigi_airbyte.sync.watcher``, one
for all of them, as a run has) with Airbyte's pushes on: the sandbox's workspace posts a
sync webhook to an in-process receiver whose hints the watcher confirms with one request
each. "webhooks on" gets every push; "webhooks dropped" gets none (the sandbox's
``drop_connections`` fault), so the watcher's listings, at each task's adaptive times,
find the end. Their GET/job counts ``GET /jobs/{id}``; for "webhooks on" also the
config-API job reads, since a confirmation is the job's details call where the config API
exists (the task then uses them instead of fetching its own; in the other rows that
details call is the runner's post-terminal work and not counted). The
watcher's listings (shared by every job) are printed under the table, with how late after
its due time each "still running" answer came (what a listing spacing or an empty budget
costs every waiting task: its next look at the job moves by as much).

Usage: python benchmarks/polling.py [--jobs 30] [--history 3] [--seed 7] [--jitter 0.1]
       [--no-webhooks] [--strategies adaptive hookon hookdrop] [--json FILE]

``--strategies`` keeps only the named rows (keys: adaptive, fixed1, fixed3, fixed10, fixed15,
adaptivevar, hookon, hookdrop; "hookon" and "hookdrop" go together) to compare a few of
them in less time; the verdict lines of rows left out are not printed.

Exits non-zero only on errors (a job that did not succeed, a timeout), never on a missed
target.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, JobStatus
from luigi_airbyte.airbyte.models import Job
from luigi_airbyte.sandbox import Sandbox, world_from_dict
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import (
    AdaptivePolling,
    FixedInterval,
    PollStrategy,
    SyncRunner,
    SyncSettings,
)
from luigi_airbyte.sync.watcher import Answer

TARGET_P50 = 0.5  # seconds: adaptive median latency must be at or under this
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class StrategySpec:
    key: str  # connection-name prefix
    label: str
    make: Callable[[], PollStrategy]
    varied: bool = False  # runs get jittered durations
    push: str = ""  # "on" / "dropped": waits through the watcher, with webhooks


STRATEGIES: tuple[StrategySpec, ...] = (
    StrategySpec("adaptive", "adaptive (ours)", AdaptivePolling),
    StrategySpec("fixed1", "fixed 1 s (Kestra)", lambda: FixedInterval(1.0)),
    StrategySpec("fixed3", "fixed 3 s (Airflow)", lambda: FixedInterval(3.0)),
    StrategySpec("fixed10", "fixed 10 s (Dagster)", lambda: FixedInterval(10.0)),
    StrategySpec("fixed15", "fixed 15 s (Prefect)", lambda: FixedInterval(15.0)),
)
VARIED = StrategySpec("adaptivevar", "adaptive, varied runs", AdaptivePolling, varied=True)
PUSHED = (
    StrategySpec("hookon", "webhooks on", AdaptivePolling, push="on"),
    StrategySpec("hookdrop", "webhooks dropped", AdaptivePolling, push="dropped"),
)
TARGET_PUSH_P50 = 0.05  # seconds: median latency with webhooks on
TARGET_PUSH_GETS = 2.0  # GET /jobs/{id} per job with webhooks on


@dataclass(frozen=True)
class Slot:
    index: int
    mu: float  # the connection's typical duration, seconds
    varied_runs: tuple[float, ...]  # durations of history runs + the measured run (varied row)


@dataclass
class Measured:
    strategy: str
    slot: int
    connection_id: str
    duration: float  # configured duration of the measured run
    job_id: int | None = None
    returned_at: float | None = None
    status: str | None = None
    error: str | None = None


@dataclass
class Row:
    label: str
    jobs: int
    p50: float
    p95: float
    lag_p50: float
    lag_p95: float
    gets_mean: float
    gets_max: int


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    verdict: str = ""
    target_met: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    table: str = ""


# --------------------------------------------------------------------------- plan


def plan_slots(n: int, seed: int, lo: float, hi: float, runs: int, jitter: float) -> list[Slot]:
    """Stratified durations: slot i draws uniformly from the i-th of n equal sub-ranges."""
    rng = random.Random(seed)
    slots = []
    for i in range(n):
        mu = lo + (hi - lo) * (i + rng.random()) / n
        varied = tuple(max(0.5, mu * math.exp(rng.gauss(0.0, jitter))) for _ in range(runs))
        slots.append(Slot(i, round(mu, 2), tuple(round(v, 2) for v in varied)))
    return slots


def build_world(specs: list[StrategySpec], slots: list[Slot], data_dir: Path) -> dict[str, Any]:
    connections = [
        {
            "name": f"{spec.key}-{slot.index:03d}",
            "source": "gen",
            "destination": "wh",
            "prefix": f"{spec.key}_{slot.index:03d}_",
            "streams": [{"name": "rows", "sync_mode": "full_refresh_append"}],
            "job_duration_seconds": slot.mu,
        }
        for spec in specs
        for slot in slots
    ]
    return {
        "workspaces": [{"name": "bench"}],
        "sources": [
            {
                "name": "gen",
                "type": "generator",
                "streams": [{"name": "rows", "size": 5, "growth_per_sync": 0, "seed": 1}],
            }
        ],
        "destinations": [{"name": "wh", "type": "duckdb", "path": str(data_dir / "wh.duckdb")}],
        "connections": connections,
        "applications": [{"name": "bench", "client_id": "bench", "client_secret": "bench-secret"}],
        "settings": {
            "max_concurrent_jobs": len(connections) + 8,
            "max_attempts": 1,
            "token_ttl_seconds": 3600,
        },
    }


def _set_duration(engine: Engine, connection_id: str, seconds: float) -> None:
    """Give the connection's next job ``seconds``.

    The engine reads ``ConnState.job_duration_seconds`` when an attempt starts and offers no
    public way to change it, so this replaces the connection's entry under the engine lock.
    """
    with engine._lock:
        state = engine._connections[connection_id]
        engine._connections[connection_id] = dataclasses.replace(
            state, job_duration_seconds=seconds
        )


def _await_engine_job(engine: Engine, job_id: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(engine.get_job(job_id)["status"])
        if status in TERMINAL:
            return status
        time.sleep(0.1)
    raise TimeoutError(f"history job {job_id} not finished after {timeout:.0f}s")


# --------------------------------------------------------------------------- one connection


def run_connection(
    sb: Sandbox,
    spec: StrategySpec,
    slot: Slot,
    history: int,
    out: Measured,
    start_gate: threading.Event,
    watcher: Any = None,
    connections: list[Any] | None = None,
) -> None:
    """History runs through the engine, then one measured run through SyncRunner."""
    engine = sb.engine
    cid = out.connection_id
    durations = slot.varied_runs if spec.varied else (slot.mu,) * (history + 1)
    try:
        start_gate.wait(timeout=60)
        for k in range(history):
            if spec.varied:
                _set_duration(engine, cid, durations[k])
            job = engine.create_job(cid, "sync")
            status = _await_engine_job(engine, int(job["jobId"]), 3 * durations[k] + 60)
            if status != "succeeded":
                raise RuntimeError(f"history job {job['jobId']} ended {status}")
        if spec.varied:
            _set_duration(engine, cid, durations[history])
        out.duration = durations[history]
        settings = SyncSettings(
            poll_strategy=spec.make(), timeout=3 * out.duration + 120, stuck_after=None
        )
        auth = AirbyteClientCredentials(sb.client_id, sb.client_secret)
        with AirbyteClient(url=sb.url, auth=auth, timeout=30.0) as client:
            feed = watcher if spec.push else None
            if feed is not None and connections:
                client.remember_connections(connections)  # the run's one listing
            runner = SyncRunner(client, InMemoryLedger(), settings=settings, feed=feed)
            result = runner.run(cid, f"bench-{spec.key}-{slot.index}")
            out.returned_at = time.time()
            out.job_id = result.job.job_id
            out.status = result.status.value
        if result.status is not JobStatus.SUCCEEDED:
            out.error = f"measured job ended {result.status.value}"
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- analysis


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (as polling_sim.py)."""
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def summarise(
    label: str,
    jobs: list[Measured],
    terminal: dict[int, float],
    gets: dict[int, list[dict[str, Any]]],
) -> Row:
    latencies, lags, counts = [], [], []
    for m in jobs:
        assert m.job_id is not None and m.returned_at is not None
        end = terminal[m.job_id]
        polls = gets.get(m.job_id, [])
        latencies.append(m.returned_at - end)
        if polls:
            last = polls[-1]
            lags.append(last["time"] + last["durationMs"] / 1000.0 - end)
        counts.append(len(polls))
    return Row(
        label=label,
        jobs=len(jobs),
        p50=statistics.median(latencies),
        p95=percentile(latencies, 0.95),
        lag_p50=statistics.median(lags) if lags else math.nan,
        lag_p95=percentile(lags, 0.95) if lags else math.nan,
        gets_mean=statistics.fmean(counts),
        gets_max=max(counts),
    )


def format_table(rows: list[Row]) -> str:
    head = (
        f"{'strategy':<24}{'jobs':>5}{'latency p50 s':>15}{'latency p95 s':>15}"
        f"{'poll lag p50 s':>16}{'poll lag p95 s':>16}{'GET/job':>9}{'max GET':>9}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.label:<24}{r.jobs:>5}{r.p50:>15.2f}{r.p95:>15.2f}"
            f"{r.lag_p50:>16.2f}{r.lag_p95:>16.2f}{r.gets_mean:>9.1f}{r.gets_max:>9d}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


class Pushes:
    """The host's watcher, a webhook receiver feeding it, and the workspace pointed at it."""

    def __init__(self, sb: Sandbox, dropped: list[str]) -> None:
        from luigi_airbyte.app.watch_pushes import WakeWatcher
        from luigi_airbyte.app.webhook_receiver import WebhookReceiver
        from luigi_airbyte.sync.watcher import JobWatcher

        class TimedWatcher(JobWatcher):
            """Notes how late after its due time each "still running" answer came."""

            def __init__(self, client: AirbyteClient) -> None:
                super().__init__(client)
                self.late: list[float] = []

            def next(
                self, job: Job, scope: str, after: int, due_in: float, timeout: float | None = None
            ) -> Answer | None:
                due = time.monotonic() + max(0.0, due_in)
                answer = super().next(job, scope, after, due_in, timeout)
                if answer is not None and not answer.job.status.is_terminal:
                    self.late.append(time.monotonic() - due)
                return answer

        auth = AirbyteClientCredentials(sb.client_id, sb.client_secret)
        self.client = AirbyteClient(url=sb.url, auth=auth, timeout=30.0)
        self.connections = list(self.client.list_connections())
        self.watcher = TimedWatcher(self.client).start()
        self.receiver = WebhookReceiver(
            WakeWatcher(self.watcher), connections=self.watcher.watches_connection, port=0
        )
        self.receiver.start()
        self.client.set_sync_webhook(sb.workspace_id, self.receiver.url)
        sb.set_faults(webhooks={"drop_connections": dropped})

    def close(self) -> None:
        self.receiver.close()
        self.watcher.stop()
        self.client.close()


ALL_KEYS = tuple(spec.key for spec in (*STRATEGIES, VARIED, *PUSHED))


def chosen_specs(args: argparse.Namespace) -> list[StrategySpec]:
    """The rows to run: every strategy, less those ``--strategies`` leaves out."""
    specs = list(STRATEGIES) + ([VARIED] if args.jitter > 0 else [])
    specs += list(PUSHED) if args.webhooks else []
    if args.strategies:
        wanted = set(args.strategies)
        if wanted & {"hookon", "hookdrop"}:
            wanted |= {"hookon", "hookdrop"}  # one watcher and receiver serve both rows
        specs = [spec for spec in specs if spec.key in wanted]
    return specs


def run(args: argparse.Namespace) -> Report:
    specs = chosen_specs(args)
    if not specs:
        raise SystemExit("no strategy left to run (see --strategies, --jitter, --no-webhooks)")
    webhooks = any(spec.push for spec in specs)
    slots = plan_slots(
        args.jobs, args.seed, args.min_duration, args.max_duration, args.history + 1, args.jitter
    )
    report = Report(
        config={
            "jobs_per_strategy": args.jobs,
            "history_runs": args.history,
            "durations_s": [args.min_duration, args.max_duration],
            "seed": args.seed,
            "jitter_sigma": args.jitter,
            "connections": len(specs) * len(slots),
        }
    )
    longest = max(max(s.varied_runs) if args.jitter > 0 else s.mu for s in slots)
    overall = (args.history + 1) * (3 * longest + 120) + 120  # bound on the whole run
    with tempfile.TemporaryDirectory(prefix="bench-polling-") as tmp:
        world = world_from_dict(build_world(specs, slots, Path(tmp)), source="<bench>")
        t0, cpu0 = time.monotonic(), time.process_time()
        with Sandbox(world) as sb:
            by_name = {c.name: world.connection_id(c) for c in world.connections}
            pushes = None
            if webhooks:
                dropped = [i for n, i in by_name.items() if n.startswith("hookdrop-")]
                pushes = Pushes(sb, dropped)
            measured: list[Measured] = []
            threads: list[threading.Thread] = []
            gate = threading.Event()
            for spec in specs:
                for slot in slots:
                    m = Measured(spec.key, slot.index, by_name[f"{spec.key}-{slot.index:03d}"], 0)
                    measured.append(m)
                    t = threading.Thread(
                        target=run_connection,
                        args=(sb, spec, slot, args.history, m, gate),
                        kwargs={
                            "watcher": pushes.watcher if pushes else None,
                            "connections": pushes.connections if pushes else None,
                        },
                        name=f"bench-{spec.key}-{slot.index}",
                        daemon=True,
                    )
                    threads.append(t)
                    t.start()
            print(
                f"{len(threads)} connections, {args.history} history runs + 1 measured run each, "
                f"durations {args.min_duration:g}-{args.max_duration:g} s; "
                f"this takes about {(args.history + 1) * longest / 60:.1f} min",
                file=sys.stderr,
            )
            gate.set()
            deadline = time.monotonic() + overall
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            alive = [t.name for t in threads if t.is_alive()]
            if alive:
                raise RuntimeError(f"{len(alive)} connections still running after {overall:.0f}s")
            errors = [f"{m.strategy}-{m.slot}: {m.error}" for m in measured if m.error]
            if errors:
                raise RuntimeError("jobs failed:\n  " + "\n  ".join(errors[:20]))
            if pushes is not None:
                report.config["watcher_ticks"] = pushes.watcher.ticks
                report.config["watcher_listings"] = pushes.watcher.listings
                late = sorted(getattr(pushes.watcher, "late", []))
                report.config["watcher_running_answers"] = len(late)
                if late:
                    report.config["watcher_late_s"] = {
                        "p50": statistics.median(late),
                        "p90": percentile(late, 0.90),
                        "max": late[-1],
                    }
                deliveries = collections.Counter(d["outcome"] for d in sb.webhook_deliveries())
                report.config["webhook_deliveries"] = dict(deliveries)
                pushes.close()
            with httpx.Client(base_url=sb.base_url, timeout=30.0) as admin:
                times = admin.get("/_sandbox/terminal-times").raise_for_status().json()
                log = admin.get("/_sandbox/requests")
                entries = log.raise_for_status().json()["requests"]
        report.wall_s = time.monotonic() - t0
        report.cpu_s = time.process_time() - cpu0

    terminal = {int(k): float(v) for k, v in times["terminalTimes"].items()}
    gets: dict[int, list[dict[str, Any]]] = {}  # each job's GET /jobs/{id}
    confirms: dict[int, list[dict[str, Any]]] = {}  # and its config-API reads
    for e in entries:
        if e["endpoint"] == "GET /jobs/{jobId}":
            gets.setdefault(int(e["path"].rsplit("/", 1)[1]), []).append(e)
        elif e.get("api") == "config" and "jobId" in e:
            confirms.setdefault(int(e["jobId"]), []).append(e)
    pushed_reads = {
        job: sorted([*gets.get(job, []), *confirms.get(job, [])], key=lambda e: e["time"])
        for job in {*gets, *confirms}
    }
    for polls in gets.values():
        polls.sort(key=lambda e: e["time"])
    for spec in specs:
        jobs = [m for m in measured if m.strategy == spec.key]
        # With webhooks, a push's confirmation is the job's details call where the config
        # API exists: it reads the job's status as a GET would (the task then uses it).
        reads = pushed_reads if spec.push == "on" else gets
        report.rows.append(summarise(spec.label, jobs, terminal, reads))

    by_key = {spec.key: row for spec, row in zip(specs, report.rows, strict=True)}
    adaptive, fixed3 = by_key.get("adaptive"), by_key.get("fixed3")
    verdicts = []
    if adaptive is not None and fixed3 is not None:
        report.target_met = adaptive.p50 <= TARGET_P50 and adaptive.gets_mean < fixed3.gets_mean
        verdicts.append(
            f"adaptive p50 {adaptive.p50:.2f} s (target <= {TARGET_P50:.2f}), "
            f"{adaptive.gets_mean:.1f} GET/job vs fixed 3 s {fixed3.gets_mean:.1f} -> "
            f"{'target met' if report.target_met else 'target NOT met'}"
        )
    report.verdict = "\n".join(verdicts)
    if "adaptivevar" in by_key and fixed3 is not None:
        var = by_key["adaptivevar"]
        met = var.p50 <= TARGET_P50 and var.gets_mean < fixed3.gets_mean
        report.verdict += (
            f"\nadaptive with runs varying (sigma {args.jitter:.2f}): p50 {var.p50:.2f} s, "
            f"{var.gets_mean:.1f} GET/job -> {'target met' if met else 'target NOT met'}"
        )
    if "hookon" in by_key:
        on, dropped = by_key["hookon"], by_key["hookdrop"]
        met = on.p50 <= TARGET_PUSH_P50 and on.gets_mean <= TARGET_PUSH_GETS
        report.verdict += (
            f"\nwebhooks on: p50 {on.p50:.3f} s (target <= {TARGET_PUSH_P50:.2f}), "
            f"{on.gets_mean:.1f} GET/job (target <= {TARGET_PUSH_GETS:.0f}) -> "
            f"{'target met' if met else 'target NOT met'}"
            f"\nwebhooks dropped: p50 {dropped.p50:.2f} s, {dropped.gets_mean:.1f} GET/job "
            f"(plus the watcher's {report.config['watcher_listings']} listings in "
            f"{report.config['watcher_ticks']} ticks, shared by {2 * len(slots)} jobs)"
        )
        if adaptive is not None:
            per_job = report.config["watcher_listings"] / (2 * len(slots))
            cheaper = dropped.gets_mean + per_job <= adaptive.gets_mean
            if dropped.p50 <= adaptive.p50 and cheaper:
                held = "no worse (p50 at or under adaptive's)"
            elif dropped.p50 <= adaptive.p50 + 0.1 and cheaper:
                held = "no worse (p50 within adaptive's + 0.1 s)"
            else:
                held = "WORSE than today"
            report.verdict += (
                f" vs adaptive {adaptive.p50:.2f} s, {adaptive.gets_mean:.1f} GET/job "
                f"({per_job:.1f} listings/job) -> {held}"
            )
        late = report.config.get("watcher_late_s")
        if late:
            report.verdict += (
                f"\nwatcher: {report.config['watcher_running_answers']} 'still running' "
                f"answers came p50 {late['p50']:.3f} s, p90 {late['p90']:.3f} s, max "
                f"{late['max']:.3f} s after their due time"
            )
    report.verdict = report.verdict.strip()
    report.table = format_table(report.rows)
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30, help="measured jobs per strategy")
    parser.add_argument("--history", type=int, default=3, help="history runs per connection")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-duration", type=float, default=1.0)
    parser.add_argument("--max-duration", type=float, default=60.0)
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.1,
        help="run-to-run sigma of the 'varied runs' row (0 leaves the row out)",
    )
    parser.add_argument(
        "--no-webhooks",
        dest="webhooks",
        action="store_false",
        help="leave out the two rows that wait through the job watcher with webhooks",
    )
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=ALL_KEYS,
        metavar="KEY",
        help=f"run only these rows ({', '.join(ALL_KEYS)}); default: all",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="show the runner's logs")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.history < 1:
        parser.error("--jobs and --history must be >= 1")
    if not 0 < args.min_duration <= args.max_duration:
        parser.error("need 0 < --min-duration <= --max-duration")
    if args.jitter < 0:
        parser.error("--jitter must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    report = run(args)
    cfg = report.config
    print(
        f"real sandbox, {cfg['jobs_per_strategy']} jobs per strategy, durations "
        f"{args.min_duration:g}-{args.max_duration:g} s (seed {args.seed}), "
        f"{args.history} history runs per connection, {cfg['connections']} connections "
        f"polled concurrently on {os.cpu_count()} CPUs"
    )
    print(report.table)
    print()
    print(
        f"wall {report.wall_s:.0f} s, process CPU {report.cpu_s:.0f} s "
        f"({report.cpu_s / max(report.wall_s, 1e-9):.0%} of one core)"
    )
    print(report.verdict)
    if args.json is not None:
        payload = {
            **{k: v for k, v in dataclasses.asdict(report).items() if k != "rows"},
            "rows": [dataclasses.asdict(r) for r in report.rows],
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
