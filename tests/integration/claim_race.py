"""The claim race: 2 to 4 processes race ``trigger_or_attach`` + ``wait`` on one run key.

Shared by tests/integration/test_claim_race.py (a short sweep in ``make test``) and
benchmarks/claim_race.py (the long sweep of ``make hostile``).

Four long-lived racer processes (``claim_race_worker.py``) share one metadata store
(SQLite file or PostgreSQL) and one sandbox. The sandbox has one connection per *lane*;
lanes run at the same time, trials within a lane one after another, each trial on a run
key of its own. A trial picks 2-4 distinct racers and seeded start delays that land the
later racers before, during and after the first one's ``POST /jobs`` and after its job
finished (a 20 ms latency on ``POST /jobs`` gives "during" a window). Each racer's start is
classified against the trial's job as the sandbox saw it. Half the racers, drawn by seed,
take the connection's recent jobs from a listing made before the trial starts, as a
brand-new claim of a run does from the run's one listing (``app/seen_jobs.py``).

Counted on the server: the jobs of each lane's connection. Exactly one per trial, or the
difference is reported as duplicates.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from integration.integration_helpers import world
from luigi_airbyte.sandbox import Sandbox, world_from_dict
from luigi_airbyte.sandbox.world import derived_id

WORKER = Path(__file__).with_name("claim_race_worker.py")
POST_LATENCY_S = 0.02
JOB_SECONDS = 0.1
PHASES = ("before the POST", "during the POST", "after the POST", "after the job finished")


@dataclass
class RaceReport:
    trials: int = 0
    racers: int = 0
    duplicates: int = 0
    wrong_job: int = 0  # racers of one trial that ended on different jobs
    errors: list[str] = field(default_factory=list)
    phases: collections.Counter[str] = field(default_factory=collections.Counter)
    how: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0


def lane_name(lane: int) -> str:
    return f"Lane {lane}"


def start_race_sandbox(base: Path, lanes: int) -> Sandbox:
    """A sandbox with one stream-less connection per lane (jobs move no rows: fast)."""
    data = world(base, job_seconds=JOB_SECONDS, rows=0)
    template = data["connections"][0]
    data["connections"] = [
        {**template, "name": lane_name(i), "prefix": f"lane{i}_"} for i in range(lanes)
    ]
    sandbox = Sandbox(world_from_dict(data, source="<claim race>", base_dir=base))
    sandbox.start()
    sandbox.set_faults(http=[{"endpoint": "POST /jobs", "latency_ms": POST_LATENCY_S * 1000}])
    return sandbox


class _Racer:
    def __init__(self, sb: Sandbox, store_url: str, log: IO[bytes], memo: bool) -> None:
        env = {
            **os.environ,
            "CLAIM_RACE_MEMO": "1" if memo else "",
            "INTEGRATION_CLIENT_ID": sb.client_id,
            "INTEGRATION_CLIENT_SECRET": sb.client_secret,
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), sb.url, store_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
            bufsize=1,
        )
        self.lock = threading.Lock()
        self.ready = threading.Event()

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        with self.lock:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()


def run_race(
    sb: Sandbox,
    store_url: str,
    *,
    trials: int,
    lanes: int,
    seed: int,
    log_path: Path,
    racers: int = 4,
    memo: bool = False,
) -> RaceReport:
    """Run ``trials`` seeded trials over ``lanes`` connections; see the module docstring.

    ``memo=True`` switches the ledger's lock off in the racers (the benchmark's baseline).
    """
    started = time.monotonic()
    results: dict[int, queue.Queue[dict[str, Any]]] = collections.defaultdict(queue.Queue)
    plan: dict[int, tuple[int, str]] = {}  # trial -> (lane, run key)
    report = RaceReport()
    with log_path.open("ab") as log:
        pool = [_Racer(sb, store_url, log, memo) for _ in range(racers)]

        def read(racer: _Racer) -> None:
            assert racer.proc.stdout is not None
            for line in racer.proc.stdout:
                doc = json.loads(line)
                if "ready" in doc:
                    racer.ready.set()
                else:
                    results[int(doc["trial"])].put(doc)

        readers = [threading.Thread(target=read, args=(r,), daemon=True) for r in pool]
        for t in readers:
            t.start()
        try:
            for racer in pool:
                if not racer.ready.wait(120):
                    raise RuntimeError(f"racer {racer.proc.pid} did not start; see {log_path}")

            def lane_loop(lane: int) -> None:
                rng = random.Random(seed * 1_000 + lane)
                # Half the racers use a shared listing made before the trial starts (its
                # own generator: the seeds reach the same interleavings as before).
                shared_rng = random.Random(seed * 7_919 + lane)
                conn = derived_id("connection", lane_name(lane))
                for trial in range(lane, trials, lanes):
                    key = f"{conn}/trial-{seed}-{trial}"
                    plan[trial] = (lane, key)
                    k = rng.randint(2, min(4, racers))
                    chosen = rng.sample(range(racers), k)
                    t0 = time.time() + 0.05
                    for i, who in enumerate(chosen):
                        delay = 0.0 if i == 0 else _delay(rng)
                        pool[who].send(
                            {
                                "trial": trial,
                                "connection_id": conn,
                                "run_key": key,
                                "start_at": t0 + delay,
                                "shared": shared_rng.random() < 0.5,
                            }
                        )
                    for _ in range(k):
                        doc = results[trial].get(timeout=120)
                        results[trial].put(doc)  # kept for the analysis below
                    # the next trial of this lane starts after this one's job is done

            lane_threads = [threading.Thread(target=lane_loop, args=(n,)) for n in range(lanes)]
            for t in lane_threads:
                t.start()
            for t in lane_threads:
                t.join()
        finally:
            for racer in pool:
                if racer.proc.stdin is not None:
                    racer.proc.stdin.close()
            for racer in pool:
                try:
                    racer.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    racer.proc.kill()
                    racer.proc.wait()
    report.seconds = time.monotonic() - started
    _analyse(sb, plan, results, lanes, report)
    return report


def _delay(rng: random.Random) -> float:
    """A later racer's start: with the first, during its POST, while its job runs, or after."""
    bucket = rng.randrange(4)
    if bucket == 0:
        return rng.uniform(0.0, 0.01)
    if bucket == 1:
        return rng.uniform(0.01, 0.06)
    if bucket == 2:
        return rng.uniform(0.06, JOB_SECONDS + 0.05)
    return rng.uniform(JOB_SECONDS + 0.2, JOB_SECONDS + 0.5)


def _analyse(
    sb: Sandbox,
    plan: dict[int, tuple[int, str]],
    results: dict[int, queue.Queue[dict[str, Any]]],
    lanes: int,
    report: RaceReport,
) -> None:
    jobs = {j.id: j for j in sb.engine._jobs.values()}  # the engine's own times (test-only)
    per_lane: collections.Counter[int] = collections.Counter(lane for lane, _ in plan.values())
    for lane in range(lanes):
        conn = derived_id("connection", lane_name(lane))
        made = sum(1 for j in jobs.values() if j.connection_id == conn)
        report.duplicates += max(0, made - per_lane[lane])
    for trial, (_lane, _key) in sorted(plan.items()):
        docs = list(results[trial].queue)
        report.trials += 1
        report.racers += len(docs)
        errors = [d["error"] for d in docs if "error" in d]
        report.errors.extend(f"trial {trial}: {e}" for e in errors)
        ok = [d for d in docs if "error" not in d]
        if len({d["job_id"] for d in ok}) > 1:
            report.wrong_job += len(ok) - 1
        for d in ok:
            report.how[d["how"]] += 1
            job = jobs.get(int(d["job_id"]))
            if job is None or d["how"] in ("created", "reconciled"):
                continue
            created = job.created_at
            ended = job.terminal_at if job.terminal_at is not None else float("inf")
            s = float(d["started"])
            if s < created - POST_LATENCY_S:
                report.phases[PHASES[0]] += 1
            elif s < created:
                report.phases[PHASES[1]] += 1
            elif s < ended:
                report.phases[PHASES[2]] += 1
            else:
                report.phases[PHASES[3]] += 1
