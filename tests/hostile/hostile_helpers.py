"""Seeded pipeline runs through the fault proxy, judged against the sandbox's own records.

One *seed* is one trial, fully independent of the others: a fresh sandbox with three
connections, a ``FaultProxy`` in front of it, a fresh project (pipeline file, state folder,
SQLite store), and a 3-sync pipeline run for one date with the client talking *only* to the
proxy. The seed also decides each job's true outcome: in about one trial in four, one
connection's jobs fail every attempt in the sandbox, so "the true final state" is not always
"succeeded". Every fifth seed is a storm (three times the fault rates).

After the run, the truth is read from the sandbox *directly* (not through the proxy): every
job of each connection through a fault-free client, and every ``POST /jobs`` that reached the
server through the admin API (``/_sandbox/requests``). The store is read from its SQLite file.

The verdict of a trial:

* ``direct``: the run ended with the true exit code, each run key has exactly one job, each
  job ended in its true state, and the store agrees (the sync step's status and job id, the
  ledger rows' job ids, statuses and committed rows);
* ``rerun``: the run ended in an error the faults caused (they outlasted the retry budget),
  with no duplicate job; a fault-free re-run of the same date then converged to the true
  state with still one job per run key (or, for a key whose job legitimately failed, one more
  job only if the first was already recorded failed: a re-run retries a failed sync, by
  design), and the store agrees;
* anything else is a ``bug``, with a description of what disagreed.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from faultproxy import Fault, FaultProxy
from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.sandbox import Sandbox, world_from_dict
from luigi_airbyte.sandbox.world import derived_id
from luigi_airbyte.sync import FixedInterval

CONNECTIONS = ("Alpha", "Beta", "Gamma")
STEPS = {name.lower(): name for name in CONNECTIONS}
CLIENT_ID = "hostile-client"
CLIENT_SECRET = "hostile-secret"  # a fixed credential of a local fake

HTTP_TIMEOUT = 1.0  # the client's read timeout in the in-process runs
STALL_SECONDS = 1.5  # a stall outlasts it
#: Per-request fault probabilities: about one request in eight is broken somehow.
FAULTS = {"reset": 0.05, "truncate": 0.04, "stall": 0.015, "slow_close": 0.03}
#: Every fifth seed is a storm: three times the rates, to outlast the retry budget now and
#: then and exercise the fault-free re-run.
STORM_SCALE = 3.0


def is_storm(seed: int) -> bool:
    return seed % 5 == 4


#: Fast, fault-tolerant settings for the in-process runs (the CLI runs use the defaults).
SYNC_OVERRIDES: dict[str, Any] = {
    "poll_strategy": FixedInterval(0.1),
    "confirm_window": 1.0,
    "clock_skew": 5.0,
    "stuck_after": None,
    "timeout": 60.0,
    "history_size": 3,
}
EXIT_OK, EXIT_SYNC_FAILED = 0, 5
EARLY = 10  # every run sends at least this many requests (token, preflight, 3 syncs)


def connection_id(name: str) -> str:
    return derived_id("connection", name)


def run_key(name: str, date: dt.date) -> str:
    return f"sync:{connection_id(name)}:{date.isoformat()}"


def world(base: Path, failing: str | None) -> dict[str, Any]:
    """Three small connections, each to its own SQLite file; ``failing`` always fails."""
    return {
        "workspaces": [{"name": "Hostile"}],
        "sources": [
            {
                "name": f"{name} source",
                "type": "generator",
                "streams": [{"name": "items", "size": 3, "growth_per_sync": 1, "seed": i}],
            }
            for i, name in enumerate(CONNECTIONS)
        ],
        "destinations": [
            {"name": f"{name} db", "type": "sqlite", "path": str(base / f"{name}.sqlite")}
            for name in CONNECTIONS
        ],
        "connections": [
            {
                "name": name,
                "source": f"{name} source",
                "destination": f"{name} db",
                "prefix": f"{name.lower()}_",
                "job_duration_seconds": 0.05,
            }
            for name in CONNECTIONS
        ],
        "applications": [{"name": "tests", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
        "settings": {"attempt_backoff_seconds": 0, "max_attempts": 2},
        "faults": {"jobs": {failing: {"fail_attempts": 99}} if failing else {}},
    }


def write_pipeline(root: Path, url: str) -> Path:
    secret = root / "airbyte_secret"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(CLIENT_SECRET)
    doc = {
        "version": 1,
        "airbyte": {
            "url": url,
            "auth": {
                "type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": f"file:{secret}",
            },
        },
        "state_dir": "state",
        "poll": {"interval": "1s"},
        "owners": {"data-platform": {"alerts": [f"jsonl:{root / 'alerts.jsonl'}"]}},
        "pipelines": {
            "hostile": {
                "owner": "data-platform",
                "steps": [{"sync": step, "connection": name} for step, name in STEPS.items()],
            }
        },
    }
    path = root / "pipeline.yaml"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


class HostileRuntime(Runtime):
    """The CLI's runtime, with a short read timeout and quick retries (a stall costs 1.5 s,
    not the default 30 s). Everything else, the retry *rules* included, is the real code."""

    def client(self) -> AirbyteClient:
        with self._lock:
            if self._client is None:
                self._client = AirbyteClient(
                    url=self.settings.airbyte_url,
                    auth=self.auth(),
                    config_api_url=self.settings.config_api_url,
                    timeout=HTTP_TIMEOUT,
                    retry=RetryPolicy(base_delay=0.05, max_delay=0.5, max_elapsed=30.0),
                )
            return self._client


def run_in_process(pipeline: Path, date: dt.date) -> int:
    """``luigi-airbyte run`` in this process (``execute_run``); returns the exit code."""
    from luigi_airbyte.cli.run_cmd import execute_run
    from luigi_airbyte.errors import LuigiAirbyteError
    from luigi_airbyte.tasks.context import clear_runtimes

    rt = HostileRuntime.load(pipeline, sync_overrides=SYNC_OVERRIDES)
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        with redirect_stdout(sink), redirect_stderr(sink):
            code, _ = execute_run(
                pipeline,
                run_date=date,
                console=Console(file=sink),
                as_json=True,
                runtime=rt,
            )
        return code
    except LuigiAirbyteError as exc:  # preflight or store errors: the CLI prints and exits
        return exc.exit_code
    finally:
        clear_runtimes()
        rt.close()
        sink.close()


def run_cli(
    pipeline: Path, date: dt.date, timeout: float = 300, *, listen: str | None = None
) -> int:
    """The real ``luigi-airbyte run`` in a subprocess; returns the exit code. With
    ``listen`` (``host:port``) the run receives Airbyte's webhooks there."""
    import subprocess
    import sys

    cli = str(Path(sys.executable).parent / "luigi-airbyte")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LUIGI_AIRBYTE_") and k != "LUIGI_CONFIG_PATH"
    }
    if listen is not None:
        env["LUIGI_AIRBYTE_WEBHOOK__LISTEN"] = listen
    # Several workers by default: each sync then runs in a warm slot (tasks/warm_slots.py).
    workers = os.environ.get("HOSTILE_CLI_WORKERS", "3")
    proc = subprocess.run(
        [cli, "run", str(pipeline), "--date", date.isoformat(), "--json", "--workers", workers],
        cwd=pipeline.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode


# -- the truth, read directly --------------------------------------------------------------


class Truth:
    """Reads the sandbox directly (never through the proxy)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        auth = AirbyteClientCredentials(CLIENT_ID, CLIENT_SECRET)
        self.client = AirbyteClient(url=sb.url, auth=auth, config_api_url=None, timeout=10.0)
        self.admin = httpx.Client(base_url=sb.base_url, timeout=10.0)

    def close(self) -> None:
        self.client.close()
        self.admin.close()

    def jobs(self, name: str) -> list[dict[str, Any]]:
        """Every job of the connection: ``{"id", "status", "rows"}``, oldest first."""
        listed = self.client.list_jobs(connection_id(name), order_by="createdAt|ASC")
        return [{"id": j.job_id, "status": j.status.value, "rows": j.rows_synced} for j in listed]

    def posts(self) -> int:
        """``POST /jobs`` that reached the server, from the admin API's request journal."""
        answer = self.admin.get("/_sandbox/requests", params={"endpoint": "POST /jobs"})
        answer.raise_for_status()
        return len(answer.json()["requests"])

    def settle(self, timeout: float = 30.0) -> dict[str, list[dict[str, Any]]]:
        """Jobs per connection once none is running (an errored run may leave one running)."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = {name: self.jobs(name) for name in CONNECTIONS}
            running = [j for js in jobs.values() for j in js if j["status"] in _OPEN]
            if not running or time.monotonic() > deadline:
                return jobs
            time.sleep(0.1)


_OPEN = ("pending", "running", "incomplete")


def read_store(state_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ledger rows, step rows) from the SQLite store, oldest first."""
    import sqlite3

    db = state_dir / "metadata.db"
    if not db.exists():
        return [], []
    con = sqlite3.connect(str(db))
    try:
        con.row_factory = sqlite3.Row
        ledger = [
            dict(r)
            for r in con.execute(
                "select run_key, job_id, status, finished, rows_committed from airbyte_jobs "
                "order by id"
            )
        ]
        steps = [
            dict(r)
            for r in con.execute(
                "select s.run_id, s.step_name, s.status, s.job_id from steps s "
                "join runs r on r.run_id = s.run_id order by r.started_at, s.id"
            )
        ]
        return ledger, steps
    finally:
        con.close()


# -- one trial -----------------------------------------------------------------------------


@dataclass
class Trial:
    seed: int
    verdict: str = ""  # direct | rerun | bug
    failing: str | None = None
    exit_codes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: float = 0.0
    #: connections whose truly failed job the fault-free re-run retried (by design: a re-run
    #: retries a failed sync; only a succeeded one is complete)
    retried_failed: list[str] = field(default_factory=list)
    #: faults planned for the first EARLY requests, which every run sends
    early_faults: int = 0
    #: Airbyte pushed each sync's end to the run's webhook receiver (CLI trials only)
    hooks: bool = False
    #: what happened to those pushes: sent, dropped, replayed, failed
    pushes: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"seed {self.seed}: {self.verdict}, exit codes {self.exit_codes}, failing "
            f"{self.failing}, jobs {self.jobs}, faults {self.stats.get('by_point')}: "
            + "; ".join(self.problems)
        )


def _expected(failing: str | None) -> dict[str, str]:
    return {name: "failed" if name == failing else "succeeded" for name in CONNECTIONS}


def _agreement(
    jobs: dict[str, list[dict[str, Any]]],
    ledger: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    date: dt.date,
    failing: str | None,
    code: int,
    *,
    allowed_jobs: dict[str, int],
) -> list[str]:
    """What disagrees with the truth after a run that claims to have finished (exit 0/5)."""
    problems: list[str] = []
    expected = _expected(failing)
    true_code = EXIT_SYNC_FAILED if failing else EXIT_OK
    if code != true_code:
        problems.append(f"exit code {code}, the true outcome gives {true_code}")
    last_run = steps[-1]["run_id"] if steps else None
    run_steps = {s["step_name"]: s for s in steps if s["run_id"] == last_run}
    for step, name in STEPS.items():
        key = run_key(name, date)
        js = jobs[name]
        if not 1 <= len(js) <= allowed_jobs[name]:
            problems.append(f"{name}: {len(js)} jobs {js} (allowed {allowed_jobs[name]})")
            continue
        job = js[-1]
        if job["status"] != expected[name]:
            problems.append(f"{name}: job {job['id']} is {job['status']}, not {expected[name]}")
        rows = [r for r in ledger if r["run_key"] == key]
        if not rows:
            problems.append(f"{name}: no ledger row for {key}")
        else:
            unknown = {r["job_id"] for r in rows} - {j["id"] for j in js}
            if unknown:
                problems.append(f"{name}: ledger names job(s) {unknown} the sandbox never had")
            last = rows[-1]
            if last["job_id"] != job["id"] or last["status"] != job["status"]:
                problems.append(
                    f"{name}: ledger's last row says job {last['job_id']} {last['status']}, "
                    f"the sandbox says job {job['id']} {job['status']}"
                )
            elif job["status"] == "succeeded" and last["rows_committed"] != job["rows"]:
                problems.append(
                    f"{name}: ledger says job {job['id']} committed {last['rows_committed']} "
                    f"rows, the sandbox says {job['rows']}"
                )
        s = run_steps.get(step)
        if s is None:
            problems.append(f"{name}: the last run has no step {step!r}")
            continue
        ok_steps = ("succeeded", "skipped") if job["status"] == "succeeded" else ("failed",)
        if s["status"] not in ok_steps:
            problems.append(
                f"{name}: step {step} is {s['status']}, job {job['id']} is {job['status']}"
            )
        if s["status"] != "skipped" and s["job_id"] != job["id"]:
            problems.append(f"{name}: step {step} names job {s['job_id']}, not {job['id']}")
    return problems


@contextmanager
def trial_world(tmp: Path, seed: int, failing: str | None) -> Iterator[tuple[Sandbox, FaultProxy]]:
    base = tmp / f"seed{seed}"
    base.mkdir(parents=True)
    sb = Sandbox(world_from_dict(world(base, failing), source="<hostile>", base_dir=base))
    sb.start()
    proxy = FaultProxy(("127.0.0.1", sb.port), seed=seed, stall_seconds=STALL_SECONDS)
    proxy.start()
    try:
        yield sb, proxy
    finally:
        proxy.stop()
        sb.stop()


def _with_webhooks(sb: Sandbox, rng: random.Random) -> Callable[[Path, dt.date], int]:
    """Point the sandbox's workspace webhooks at a free loopback port (as ``webhook
    configure`` does), with seeded drops and replays; the CLI run that listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen = f"127.0.0.1:{probe.getsockname()[1]}"
    hook = {"webhook": {"enabled": True, "url": f"http://{listen}"}}
    sb.engine.patch_workspace(
        sb.workspace_id, {"notifications": {"success": hook, "failure": hook}}
    )
    sb.set_faults(webhooks={"drop_count": rng.randint(0, 1), "replay_count": rng.randint(0, 1)})

    def run(pipeline: Path, date: dt.date) -> int:
        return run_cli(pipeline, date, listen=listen)

    return run


def run_trial(
    seed: int,
    tmp: Path,
    *,
    faults: dict[str, float] | None = None,
    cli: bool = False,
    hooks: bool = False,
    create_only: bool = False,
    script: Callable[[int, str, str], Fault | None] | None = None,
) -> Trial:
    """One seeded trial; see the module docstring for the verdicts. ``hooks`` (CLI only):
    Airbyte also pushes each sync's end to the run's webhook receiver, straight from the
    sandbox; each push's confirmation goes through the proxy, and seeded pushes are
    dropped or sent twice."""
    started = time.monotonic()
    rng = random.Random(f"outcome-{seed}")
    failing = rng.choice(CONNECTIONS) if rng.random() < 0.25 else None
    date = dt.date(2026, 1, 1) + dt.timedelta(days=seed % 3000)
    trial = Trial(seed, failing=failing, hooks=hooks and cli)
    run: Callable[[Path, dt.date], int] = run_cli if cli else run_in_process
    with trial_world(tmp, seed, failing) as (sb, proxy):
        if trial.hooks:
            run = _with_webhooks(sb, rng)
        narrow: dict[str, Any] = {}
        if create_only:  # answers to POST /jobs lost after the server acted, nothing else
            narrow = {"only": ("POST", "/jobs"), "points": {"reset": ("after_upstream",)}}
        if faults is None:
            scale = STORM_SCALE if is_storm(seed) else 1.0
            # The CLI's client waits 30 s for an answer: a stall there costs half a minute
            # per request, so the CLI trials leave stalls to the in-process ones.
            faults = {k: p * scale for k, p in FAULTS.items() if not (cli and k == "stall")}
        proxy.configure(**narrow, **faults)
        trial.early_faults = sum(1 for f in proxy.planned(EARLY) if f.kind)
        proxy.script = script
        root = tmp / f"seed{seed}" / "project"
        root.mkdir()
        pipeline = write_pipeline(root, proxy.base_url + "/api/public/v1")
        truth = Truth(sb)
        try:
            code = run(pipeline, date)
            trial.exit_codes.append(code)
            trial.stats = proxy.stats()
            if trial.hooks:
                trial.pushes = dict(
                    collections.Counter(d["outcome"] for d in sb.engine.webhooks.journal())
                )
            jobs = truth.settle()
            trial.stats["posts"] = truth.posts()
            trial.jobs = jobs
            dupes = {n: js for n, js in jobs.items() if len(js) > 1}
            if dupes:
                trial.verdict = "bug"
                trial.problems.append(f"duplicate jobs after the faulty run: {dupes}")
                return trial
            ledger, steps = read_store(root / "state")
            ones = dict.fromkeys(CONNECTIONS, 1)
            problems = _agreement(jobs, ledger, steps, date, failing, code, allowed_jobs=ones)
            if not problems:
                trial.verdict = "direct"
                return trial
            if code in (EXIT_OK, EXIT_SYNC_FAILED):
                # The run claims it finished, yet something disagrees: that is a bug.
                trial.verdict = "bug"
                trial.problems = problems
                return trial
            # The faults outlasted the retry budget. A fault-free re-run must converge.
            trial.problems.append(f"first run: {'; '.join(problems)}")
            allowed = dict.fromkeys(CONNECTIONS, 1)
            if failing is not None:
                key = run_key(failing, date)
                known_failed = any(
                    r["run_key"] == key and r["finished"] and r["status"] == "failed"
                    for r in ledger
                )
                allowed[failing] = 2 if known_failed else 1
            proxy.enabled = False
            code = run(pipeline, date)
            trial.exit_codes.append(code)
            jobs = truth.settle()
            trial.jobs = jobs
            ledger, steps = read_store(root / "state")
            problems = _agreement(jobs, ledger, steps, date, failing, code, allowed_jobs=allowed)
            if problems:
                trial.verdict = "bug"
                trial.problems.append(f"after the fault-free re-run: {'; '.join(problems)}")
            else:
                trial.verdict = "rerun"
                trial.retried_failed = [n for n, js in jobs.items() if len(js) > 1]
            return trial
        finally:
            truth.close()
            trial.seconds = time.monotonic() - started
