"""Sandbox scale: a 1,000-connection world, GET /jobs/{id} against many jobs, peak RSS.

(a) World load, in this process: validating the world from a dict (``world_from_dict``),
    from a YAML file (``load_world``), ``Sandbox.start()`` (bind, ``Engine``, runner thread),
    the first ``GET /connections`` page, and paging through all 1,000 connections. Each step
    runs ``--repeat`` times; the table shows the median.
(b) ``GET /jobs/{id}`` with N jobs in the sandbox (``--levels``, default 100, 1,000, 10,000):
    jobs are created through the engine directly on a separate world whose connections select
    no streams and take 0 s (a job costs ~0.5 ms instead of ~9 ms with a DuckDB write; the
    response has the same shape), all of them finished. Then one client sends ``--requests``
    sequential GETs for random existing ids: client-side p50/p95, requests/s, the server's
    own handling time (request log), plus ``GET /jobs?connectionId=`` (what every
    ``SyncRunner.run`` lists first) and the process CPU while the sandbox sits idle.
(d) A full walk of ``--walk`` connections (default 10,000; target <= 2 s) at 100 a page:
    ``Sandbox.start`` with that world, then every ``GET /connections?limit=100`` page in
    order. Before the views were lazy each page rendered every connection (O(n^2) walk).
    Also ``load_world`` of that world as YAML, and the parse alone (the C parser where
    ruamel.yaml.clib is installed).
(c) Peak RSS of a real sandbox process: ``python -m luigi_airbyte.sandbox --world FILE``
    with the 1,000-connection world (and a 1-connection world as the baseline), after it
    answered every ``GET /connections`` page; ``VmHWM`` from ``/proc/<pid>/status``.

Usage: python benchmarks/sandbox_scale.py [--levels 100 1000 10000] [--requests 2000]
       [--repeat 3] [--walk 10000] [--sections a b c d] [--json FILE]

Everything listens on and talks to 127.0.0.1 only. Exits non-zero only on errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML

from luigi_airbyte.sandbox import Sandbox, load_world, world_from_dict

CONNECTIONS = 1000
SOURCES = 100
DESTINATIONS = 10
JOB_CONNECTIONS = 500  # connections of the jobs world (jobs per round)
CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret"


@dataclass
class WorldRow:
    step: str
    median_s: float
    min_s: float


@dataclass
class JobsRow:
    jobs: int
    create_s: float  # wall time to create and finish the jobs added for this level
    p50_ms: float
    p95_ms: float
    rps: float
    server_p50_ms: float
    list_p50_ms: float
    idle_cpu_pct: float
    rss_mb: float


@dataclass
class RssRow:
    world: str
    ready_s: float
    first_page_s: float
    peak_rss_mb: float
    rss_mb: float


@dataclass
class WalkRow:
    connections: int
    yaml_parse_s: float
    load_world_s: float
    start_s: float
    first_page_s: float
    walk_s: float
    pages: int


@dataclass
class Report:
    world_rows: list[WorldRow] = field(default_factory=list)
    walk_rows: list[WalkRow] = field(default_factory=list)
    jobs_rows: list[JobsRow] = field(default_factory=list)
    rss_rows: list[RssRow] = field(default_factory=list)
    jobs_process_peak_mb: float = 0.0
    tables: str = ""


# --------------------------------------------------------------------------- worlds


def big_world(data_dir: Path, connections: int = CONNECTIONS) -> dict[str, Any]:
    """``connections`` connections over 100 generator sources (3 streams) and 10 DuckDB files."""
    sources = min(SOURCES, connections)
    destinations = min(DESTINATIONS, connections)
    return {
        "workspaces": [{"name": "bench"}],
        "sources": [
            {
                "name": f"source-{s:03d}",
                "type": "generator",
                "namespace": "public",
                "streams": [
                    {"name": name, "size": 100, "growth_per_sync": 10, "seed": s * 10 + j}
                    for j, name in enumerate(("users", "orders", "events"))
                ],
            }
            for s in range(sources)
        ],
        "destinations": [
            {
                "name": f"warehouse-{d:02d}",
                "type": "duckdb",
                "path": str(data_dir / f"wh{d}.duckdb"),
            }
            for d in range(destinations)
        ],
        "connections": [
            {
                "name": f"connection-{i:04d}",
                "source": f"source-{i % sources:03d}",
                "destination": f"warehouse-{i % destinations:02d}",
                "prefix": f"c{i:04d}_",
                "streams": [
                    {
                        "name": "users",
                        "sync_mode": "incremental_deduped_history",
                        "cursor_field": "updated_at",
                        "primary_key": "id",
                    },
                    {"name": "orders", "sync_mode": "full_refresh_overwrite"},
                ],
            }
            for i in range(connections)
        ],
        "applications": [{"name": "bench", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
    }


def jobs_world(data_dir: Path) -> dict[str, Any]:
    """Connections whose jobs select no streams and take 0 s: cheap jobs in bulk."""
    return {
        "workspaces": [{"name": "bench"}],
        "sources": [
            {
                "name": "gen",
                "type": "generator",
                "streams": [{"name": "rows", "size": 1, "growth_per_sync": 0, "seed": 1}],
            }
        ],
        "destinations": [{"name": "wh", "type": "duckdb", "path": str(data_dir / "jobs.duckdb")}],
        "connections": [
            {
                "name": f"jobs-{i:04d}",
                "source": "gen",
                "destination": "wh",
                "streams": [],
                "job_duration_seconds": 0,
            }
            for i in range(JOB_CONNECTIONS)
        ],
        "applications": [{"name": "bench", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
        "settings": {"max_concurrent_jobs": 32, "max_attempts": 1},
    }


def write_yaml(data: dict[str, Any], path: Path) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)


# --------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


@contextmanager
def token_client(base_url: str) -> Iterator[httpx.Client]:
    """An httpx client for the public API with a bearer token."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        token = client.post("/applications/token", json=body).raise_for_status().json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client


def all_connection_pages(client: httpx.Client, total: int = CONNECTIONS) -> int:
    seen, offset = 0, 0
    for _ in range(total // 100 + 5):  # bounded: at most this many pages
        data = client.get("/connections", params={"limit": 100, "offset": offset})
        page = data.raise_for_status().json()["data"]
        seen += len(page)
        offset += 100
        if len(page) < 100:
            break
    return seen


def proc_status_mb(pid: int, key: str) -> float:
    """``VmHWM``/``VmRSS`` in MB from /proc (Linux); psutil's current RSS elsewhere."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


# --------------------------------------------------------------------------- (a) world load


def bench_world_load(data_dir: Path, repeat: int) -> list[WorldRow]:
    data_dir.mkdir(parents=True, exist_ok=True)
    data = big_world(data_dir)
    yaml_path = data_dir / "world-1000.yaml"
    write_yaml(data, yaml_path)
    samples: dict[str, list[float]] = {}

    def add(step: str, seconds: float) -> None:
        samples.setdefault(step, []).append(seconds)

    for _ in range(repeat):
        seconds, world = timed(lambda: world_from_dict(data, base_dir=data_dir))
        add("world_from_dict (validate a dict)", seconds)
        seconds, _ = timed(lambda: load_world(yaml_path))
        add("load_world (YAML file, parse + validate)", seconds)
        t0 = time.perf_counter()
        sb = Sandbox(world).start()
        seconds = time.perf_counter() - t0
        try:
            add("Sandbox.start (bind + Engine + runner)", seconds)
            with token_client(sb.url) as client:
                seconds, first = timed(lambda: client.get("/connections").raise_for_status())
                if len(first.json()["data"]) != 20:
                    raise RuntimeError("the first /connections page does not hold 20 items")
                add("first GET /connections page (20)", seconds)
                seconds, _ = timed(
                    lambda: client.get("/connections", params={"limit": 100}).raise_for_status()
                )
                add("GET /connections?limit=100", seconds)
                seconds, count = timed(lambda: all_connection_pages(client))
                if count != CONNECTIONS:
                    raise RuntimeError(f"paging found {count} connections, not {CONNECTIONS}")
                add("all 1,000 via 11 pages of 100", seconds)
        finally:
            sb.stop()
    return [WorldRow(k, statistics.median(v), min(v)) for k, v in samples.items()]


# --------------------------------------------------------------------------- (b) jobs


def _create_jobs(sb: Sandbox, connection_ids: list[str], count: int, timeout: float) -> None:
    """Create ``count`` jobs through the engine, ``len(connection_ids)`` at a time."""
    engine = sb.engine
    deadline = time.monotonic() + timeout
    done = len(engine.terminal_times())
    target = done + count
    while done < target:
        batch = min(len(connection_ids), target - done)
        for cid in connection_ids[:batch]:
            engine.create_job(cid, "sync")
        done += batch
        while len(engine.terminal_times()) < done:  # one job per connection at a time
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs not finished after {timeout:.0f}s")
            time.sleep(0.02)


def _latencies(client: httpx.Client, paths: list[str]) -> tuple[list[float], float]:
    out = []
    t0 = time.perf_counter()
    for path in paths:  # bounded by len(paths)
        t = time.perf_counter()
        client.get(path).raise_for_status()
        out.append(time.perf_counter() - t)
    return out, time.perf_counter() - t0


def bench_jobs(data_dir: Path, levels: list[int], requests: int, seed: int) -> list[JobsRow]:
    rows: list[JobsRow] = []
    rng = random.Random(seed)
    world = world_from_dict(jobs_world(data_dir), source="<jobs world>")
    connection_ids = [world.connection_id(c) for c in world.connections]
    with Sandbox(world) as sb, token_client(sb.url) as client:
        existing = 0
        for level in sorted(levels):
            t0 = time.perf_counter()
            _create_jobs(sb, connection_ids, level - existing, timeout=120 + level * 0.05)
            create_s = time.perf_counter() - t0
            existing = level
            time.sleep(0.5)  # let the runner reap its worker threads
            cpu0 = time.process_time()
            time.sleep(2.0)
            idle_cpu = (time.process_time() - cpu0) / 2.0 * 100
            _latencies(client, [f"/jobs/{rng.randint(1, level)}" for _ in range(50)])  # warm-up
            sb.clear_requests()
            ids = [rng.randint(1, level) for _ in range(requests)]
            lat, wall = _latencies(client, [f"/jobs/{i}" for i in ids])
            server = [e["durationMs"] for e in sb.requests(endpoint="GET /jobs/{jobId}")]
            listing, _ = _latencies(
                client,
                [
                    f"/jobs?connectionId={rng.choice(connection_ids)}&orderBy=createdAt|DESC"
                    for _ in range(max(20, requests // 10))
                ],
            )
            rows.append(
                JobsRow(
                    jobs=level,
                    create_s=create_s,
                    p50_ms=statistics.median(lat) * 1000,
                    p95_ms=percentile(lat, 0.95) * 1000,
                    rps=len(lat) / wall,
                    server_p50_ms=statistics.median(server) if server else math.nan,
                    list_p50_ms=statistics.median(listing) * 1000,
                    idle_cpu_pct=idle_cpu,
                    rss_mb=proc_status_mb(os.getpid(), "VmRSS"),
                )
            )
            print(f"  {level} jobs measured", file=sys.stderr, flush=True)
    return rows


# --------------------------------------------------------------------------- (d) walk


def bench_walk(data_dir: Path, connections: int) -> WalkRow:
    """Load a world of ``connections`` from YAML, start it, walk every page of 100."""
    data_dir.mkdir(parents=True, exist_ok=True)
    yaml_path = data_dir / f"world-{connections}.yaml"
    write_yaml(big_world(data_dir, connections=connections), yaml_path)
    text = yaml_path.read_text(encoding="utf-8")
    from luigi_airbyte.sandbox.world import yaml_loader  # what load_world parses with

    parse_s, _ = timed(lambda: yaml_loader().load(text))
    load_s, world = timed(lambda: load_world(yaml_path))
    t0 = time.perf_counter()
    sb = Sandbox(world).start()
    start_s = time.perf_counter() - t0
    try:
        with token_client(sb.url) as client:
            first_s, _ = timed(
                lambda: client.get("/connections", params={"limit": 100}).raise_for_status()
            )
            walk_s, count = timed(lambda: all_connection_pages(client, connections))
    finally:
        sb.stop()
    if count != connections:
        raise RuntimeError(f"the walk found {count} connections, not {connections}")
    return WalkRow(
        connections=connections,
        yaml_parse_s=parse_s,
        load_world_s=load_s,
        start_s=start_s,
        first_page_s=first_s,
        walk_s=walk_s,
        pages=math.ceil(connections / 100) + (1 if connections % 100 == 0 else 0),
    )


# --------------------------------------------------------------------------- (c) RSS


def _read_line(stream: Any, timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box:
        raise TimeoutError(f"the sandbox printed nothing within {timeout:.0f}s")
    return box[0]


def bench_process(world_path: Path, label: str, log_path: Path) -> RssRow:
    cmd = [sys.executable, "-m", "luigi_airbyte.sandbox", "--world", str(world_path)]
    cmd += ["--host", "127.0.0.1", "--port", "0"]
    with log_path.open("w", encoding="utf-8") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            line = _read_line(proc.stdout, timeout=120)
            ready = time.perf_counter() - t0
            if not line.strip():
                raise RuntimeError(f"the sandbox exited ({proc.poll()}); see {log_path}")
            info = json.loads(line)
            with token_client(info["url"]) as client:
                first, _ = timed(lambda: client.get("/connections").raise_for_status())
                if label.startswith("1,000"):
                    all_connection_pages(client)
            return RssRow(
                world=label,
                ready_s=ready,
                first_page_s=first,
                peak_rss_mb=proc_status_mb(proc.pid, "VmHWM"),
                rss_mb=proc_status_mb(proc.pid, "VmRSS"),
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def bench_rss(data_dir: Path) -> list[RssRow]:
    small, big = data_dir / "world-1.yaml", data_dir / "world-1000-rss.yaml"
    write_yaml(big_world(data_dir / "one", connections=1), small)
    write_yaml(big_world(data_dir / "big"), big)
    return [
        bench_process(small, "1 connection (baseline)", data_dir / "sandbox-1.log"),
        bench_process(big, "1,000 connections", data_dir / "sandbox-1000.log"),
    ]


# --------------------------------------------------------------------------- output


def format_tables(report: Report, args: argparse.Namespace) -> str:
    parts = []
    if "a" in args.sections:
        parts.append(_table_a(report, args))
    if "b" in args.sections:
        parts.append(_table_b(report, args))
    if "d" in args.sections:
        parts.append(_table_d(report))
    if "c" in args.sections:
        parts.append(_table_c(report, args))
    return "\n\n".join(parts)


def _table_a(report: Report, args: argparse.Namespace) -> str:
    out = [
        f"(a) world of {CONNECTIONS:,} connections ({SOURCES} generator sources x 3 streams, "
        f"{DESTINATIONS} DuckDB destinations), in-process, median of {args.repeat}",
        f"{'step':<44}{'median s':>10}{'min s':>10}",
    ]
    out += [f"{r.step:<44}{r.median_s:>10.3f}{r.min_s:>10.3f}" for r in report.world_rows]
    return "\n".join(out)


def _table_b(report: Report, args: argparse.Namespace) -> str:
    out = [
        f"(b) GET /jobs/{{id}} with N finished jobs: one client, {args.requests} sequential "
        "requests for random ids",
        f"{'jobs':>7}{'create s':>10}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'server p50 ms':>15}"
        f"{'list p50 ms':>13}{'idle CPU %':>12}{'RSS MB':>8}",
    ]
    out += [
        f"{r.jobs:>7,}{r.create_s:>10.1f}{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}{r.rps:>8.0f}"
        f"{r.server_p50_ms:>15.3f}{r.list_p50_ms:>13.2f}{r.idle_cpu_pct:>12.1f}{r.rss_mb:>8.0f}"
        for r in report.jobs_rows
    ]
    out += [
        "  create s = creating (through the engine) and finishing the jobs added for this row",
        "  list = GET /jobs?connectionId=<one connection>&orderBy=createdAt|DESC (default page "
        "of 20); idle CPU = this process while no request and no job runs",
        f"  peak RSS of the (b) benchmark process itself, {max(args.levels):,} jobs held: "
        f"{report.jobs_process_peak_mb:.0f} MB",
    ]
    return "\n".join(out)


def _table_d(report: Report) -> str:
    out = [
        "(d) full walk of GET /connections at 100 a page (target: 10,000 in <= 2 s)",
        f"{'connections':>12}{'YAML parse s':>14}{'load_world s':>14}{'start s':>9}"
        f"{'1st page s':>12}{'walk s':>9}{'pages':>7}",
    ]
    out += [
        f"{r.connections:>12,}{r.yaml_parse_s:>14.3f}{r.load_world_s:>14.3f}{r.start_s:>9.2f}"
        f"{r.first_page_s:>12.3f}{r.walk_s:>9.2f}{r.pages:>7}"
        for r in report.walk_rows
    ]
    out.append(
        "  YAML parse = the world loader's parser (ruamel's C parser where ruamel.yaml.clib is "
        "installed); "
        "load_world = parse + validate; walk = every page, the first included"
    )
    return "\n".join(out)


def _table_c(report: Report, args: argparse.Namespace) -> str:
    out = [
        "(c) sandbox process (python -m luigi_airbyte.sandbox --world FILE), after serving "
        "GET /connections",
        f"{'world':<26}{'ready s':>9}{'1st page s':>12}{'peak RSS MB':>13}{'RSS MB':>9}",
    ]
    out += [
        f"{r.world:<26}{r.ready_s:>9.2f}{r.first_page_s:>12.3f}{r.peak_rss_mb:>13.1f}"
        f"{r.rss_mb:>9.1f}"
        for r in report.rss_rows
    ]
    out.append("  ready = from spawning the interpreter to the JSON line (imports + YAML + start)")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--walk", type=int, default=10000, help="connections walked in (d)")
    parser.add_argument(
        "--sections", nargs="+", choices=["a", "b", "c", "d"], default=["a", "b", "c", "d"]
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if min(args.levels) < 1 or args.requests < 1 or args.repeat < 1 or args.walk < 1:
        parser.error("--levels, --requests, --repeat and --walk must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        data_dir = Path(tmp)
        if "a" in args.sections:
            print("(a) world load ...", file=sys.stderr, flush=True)
            report.world_rows = bench_world_load(data_dir / "a", args.repeat)
        if "b" in args.sections:
            print("(b) GET /jobs/{id} ...", file=sys.stderr, flush=True)
            (data_dir / "b").mkdir()
            report.jobs_rows = bench_jobs(data_dir / "b", args.levels, args.requests, args.seed)
            report.jobs_process_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if "d" in args.sections:
            print(f"(d) walk of {args.walk:,} connections ...", file=sys.stderr, flush=True)
            report.walk_rows = [bench_walk(data_dir / "d", args.walk)]
        if "c" in args.sections:
            print("(c) sandbox process RSS ...", file=sys.stderr, flush=True)
            (data_dir / "c").mkdir()
            report.rss_rows = bench_rss(data_dir / "c")
    report.tables = format_tables(report, args)
    print(report.tables)
    if args.json is not None:
        args.json.write_text(json.dumps(dataclasses.asdict(report), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
