"""Runs close even when killed; the store defends itself; every failure is a run, alerted
once, and explained in the last lines of the output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import (
    CLI,
    CRM,
    EVENTS,
    Project,
    RunResult,
    clean_env,
    default_steps,
    finish,
    free_port,
    jobs_for,
    wait_for,
)

FAILURE = "Source CRM: connection refused by crm.internal:5432"
SLOW_SQL = "select sum(hash(range)) > 0 from range(20000000000)"


def _cli(project: Project, *args: str) -> RunResult:
    return project.cli(*args, "-f", str(project.path), timeout=60)


def _history(project: Project) -> list[dict[str, Any]]:
    done = _cli(project, "history", "--json")
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout)["runs"]
    return runs


def _show(project: Project, run_id: str) -> dict[str, Any]:
    done = _cli(project, "show", run_id, "--json")
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _step_status(project: Project, step: str) -> str | None:
    """Read the store directly (read-only), as a watcher would, without reaping."""
    db = project.state_dir / "metadata.db"
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute(
                "SELECT status FROM steps WHERE step_name = ? ORDER BY id DESC LIMIT 1", (step,)
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _kill_when_running(project: Project, step: str) -> None:
    proc = project.start()
    try:
        wait_for(lambda: _step_status(project, step) == "running", 120, f"{step} to run")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    assert proc.returncode == -signal.SIGKILL


def _assert_closed_after_rerun(project: Project) -> None:
    rerun = project.run()
    assert rerun.returncode == 0, rerun
    assert len(jobs_for(project.sandbox, CRM)) == 1
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    runs = _history(project)
    assert [r["status"] for r in runs] == ["succeeded", "abandoned"], runs
    for run in runs:
        doc = _show(project, run["run_id"])
        assert "running" not in {s["status"] for s in doc["steps"]}, doc["steps"]
        assert doc["run"]["status"] != "running"
    killed = _show(project, runs[1]["run_id"])
    assert "is gone" in killed["run"]["message"], killed["run"]
    assert killed["run"]["finished_at"] is not None


@pytest.mark.slow
def test_kill_9_mid_check_leaves_an_abandoned_run_and_the_rerun_finishes(
    project: Project,
) -> None:
    steps = default_steps()
    steps[2]["sql"]["query"] = SLOW_SQL  # type: ignore[index]
    project.write(steps)

    _kill_when_running(project, "users_loaded")
    # the killed run is closed by the next reader, never left `running`
    (killed,) = _history(project)
    assert killed["status"] == "abandoned", killed
    steps_now = {s["name"]: s["status"] for s in _show(project, killed["run_id"])["steps"]}
    assert steps_now["users_loaded"] == "abandoned", steps_now

    steps[2]["sql"]["query"] = "select count(*) > 0 from crm_users"  # type: ignore[index]
    project.write(steps)
    _assert_closed_after_rerun(project)


def _dbt_project(root: Path, flag: Path) -> dict[str, Any]:
    models = root / "dbt" / "models"
    models.mkdir(parents=True)
    (root / "dbt" / "dbt_project.yml").write_text(
        'name: lc\nversion: "1.0.0"\nprofile: lc\nmodel-paths: ["models"]\n', encoding="utf-8"
    )
    (root / "dbt" / "profiles.yml").write_text(
        "lc:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f'      path: "{root / "dbt.duckdb"}"\n      threads: 1\n',
        encoding="utf-8",
    )
    (models / "slow.py").write_text(
        "import os, time\n\n\ndef model(dbt, session):\n"
        f"    while os.path.exists({str(flag)!r}):\n        time.sleep(0.2)\n"
        "    return session.sql('select 1 as x')\n",
        encoding="utf-8",
    )
    return {"dbt": {"project_dir": "dbt", "profiles_dir": "dbt"}, "name": "models"}


@pytest.mark.slow
def test_kill_9_mid_dbt_leaves_an_abandoned_run_and_the_rerun_finishes(
    project: Project,
) -> None:
    pytest.importorskip("dbt.adapters.duckdb")
    flag = project.root / "hold-dbt"
    flag.touch()
    steps = default_steps()
    steps.append({**_dbt_project(project.root, flag), "after": ["report"]})
    project.write(steps)

    _kill_when_running(project, "models")
    flag.unlink()
    _assert_closed_after_rerun(project)


# --- the store defends itself -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_an_untrusted_store_is_refused_before_anything_is_contacted(
    project: Project, kind: str
) -> None:
    db = project.state_dir / "metadata.db"
    db.parent.mkdir(parents=True)
    if kind == "empty":
        db.write_bytes(b"")
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")

    result = project.run()

    assert result.returncode == 4, result
    assert str(db) in result.stderr, result.stderr
    assert "store URL" in result.stderr, result.stderr  # the fix
    assert "Traceback" not in result.stderr
    assert project.sandbox.requests() == []  # nothing contacted
    assert project.alert_lines() == []
    if kind == "empty":
        assert db.stat().st_size == 0  # never silently recreated


@pytest.mark.slow
def test_state_folder_deleted_mid_run_fails_loudly_and_records_no_success(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(slow={CRM: 6})
    proc = project.start()
    try:
        wait_for(
            lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
            60,
            "the crm job to run",
        )
        shutil.rmtree(project.state_dir)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode not in (0, None), (out, err)
    assert "deleted or replaced" in out + err, (out, err)
    assert "Traceback" not in err, err
    db = project.state_dir / "metadata.db"
    if db.exists():  # nothing may claim success in a store that replaced the lost one
        with sqlite3.connect(db) as conn:
            assert conn.execute(
                "SELECT count(*) FROM runs WHERE status='succeeded'"
            ).fetchone() == (0,)
    alerts = project.alert_lines()
    assert [a["kind"] for a in alerts] == ["store-failure"], alerts


# --- a preflight failure is a run, alerted once -----------------------------------------


def test_unset_env_secret_is_a_recorded_run_with_one_alert(project: Project) -> None:
    steps = default_steps()
    steps[3]["command"]["env"] = {"API_TOKEN": "env:LC_TEST_UNSET_TOKEN"}  # type: ignore[index]
    project.write(steps)

    result = project.run()

    assert result.returncode == 4, result
    assert "LC_TEST_UNSET_TOKEN" in result.stderr
    assert project.sandbox.requests("/jobs", method="POST") == []
    (run,) = _history(project)
    assert (run["status"], run["exit_code"]) == ("failed", 4), run
    (alert,) = project.alert_lines()
    assert alert["owner_role"] == "data-platform" and alert["kind"] == "preflight-failure"
    assert "LC_TEST_UNSET_TOKEN" in alert["text"]
    assert alert["run_id"] == _show(project, run["run_id"])["run"]["run_id"]


def test_airbyte_down_is_a_recorded_run_with_one_alert(project: Project) -> None:
    project.write(url=f"http://127.0.0.1:{free_port()}/api/public/v1")

    result = project.run()

    assert result.returncode == 4, result
    (run,) = _history(project)
    assert (run["status"], run["exit_code"]) == ("failed", 4), run
    (alert,) = project.alert_lines()
    assert alert["kind"] == "preflight-failure" and "airbyte.health" in alert["text"]


def test_a_validation_failure_has_no_side_effect(project: Project) -> None:
    steps = default_steps()
    steps[2]["after"] = ["no_such_step"]
    project.write(steps)

    result = project.run()

    assert result.returncode == 3, result
    assert not project.state_dir.exists()
    assert project.alert_lines() == []


@pytest.mark.parametrize("interval", ["2026-01-14", "2026-01-14T14", "2026-01-15", "x:y"])
def test_an_interval_outside_the_run_date_is_refused_before_anything(
    project: Project, interval: str
) -> None:
    """A sync's run key names its data by the interval: another date's interval took
    that date's key, and the run skipped, as done, a sync its own date never had."""
    project.sandbox.clear_requests()

    result = project.run("--interval", interval)

    assert result.returncode == 3, result
    assert "--interval" in result.stderr and "2026-01-15T" in result.stderr, result.stderr
    assert not project.state_dir.exists()
    assert project.sandbox.requests() == []


def test_an_interval_of_the_run_date_is_its_own_partition(project: Project) -> None:
    project.write([{"sync": "crm", "connection": CRM}])
    assert project.run().returncode == 0

    result = project.run("--interval", "2026-01-15T14", "--json")

    assert result.returncode == 0, result
    assert result.steps()["crm"]["status"] == "succeeded"  # synced: not the date's job
    assert len(jobs_for(project.sandbox, CRM)) == 2


@pytest.mark.parametrize("workers", ["1", "2"])
def test_with_preflight_skipped_a_missing_connection_fails_its_step_and_only_it(
    project: Project, workers: str
) -> None:
    """The lookup in the step's ``complete()`` raised: Luigi ran nothing of the graph
    (every step "not_run", exit 1, no alert) and said why only in a warning."""
    project.write(
        [{"sync": "crm", "connection": CRM}, {"sync": "ghost", "connection": "No Such Conn"}]
    )

    result = project.run("--skip-preflight", "--json", "--workers", workers)

    assert result.returncode == 4, result
    steps = result.steps()
    assert steps["crm"]["status"] == "succeeded", steps
    ghost = steps["ghost"]
    assert (ghost["status"], ghost["exit_code"]) == ("failed", 4), ghost
    assert "no connection named 'No Such Conn'" in ghost["message"]
    (alert,) = project.alert_lines()
    assert "ghost" in alert["title"] and "No Such Conn" in alert["text"], alert
    text = project.run("--skip-preflight", "--workers", workers)  # the same failure
    assert text.returncode == 4, text
    fix = next(line for line in text.stdout.splitlines() if line.strip().startswith("fix:"))
    assert "luigi-airbyte connections list" in fix and "luigi-airbyte run" in fix, fix


# --- the last lines say what failed, why, and what to do --------------------------------


def test_the_last_lines_of_a_failed_run_hold_the_recap(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=2,
    )

    result = project.run()

    assert result.returncode == 5, result
    tail = result.stdout.strip().splitlines()[-5:]
    text = "\n".join(tail)
    assert "Failed steps (1):" in text, text
    failed = next(line for line in tail if "✗ crm" in line)
    assert f"connection '{CRM}'" in failed and FAILURE in failed, tail
    fix = next(line for line in tail if line.strip().startswith("fix:"))
    assert "luigi-airbyte run" in fix and "--date 2026-01-15" in fix, fix
    assert tail[-1] == "PASS=1 FAIL=1 SKIPPED=3 (exit 5)", tail
    # printed once: no Luigi ERROR line and no traceback for an expected failure
    assert "Traceback" not in result.stderr, result.stderr
    assert "luigi-interface" not in result.stderr, result.stderr

    verbose = subprocess.run(
        [CLI, "-v", *project.argv()[1:]],
        cwd=project.root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verbose.returncode == 5
    assert "Traceback" in verbose.stderr  # -v keeps Luigi's account


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_stopped_mid_run_exits_4_and_the_rerun_settles(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pg_server import PostgresServer, PostgresUnavailable

    pytest.importorskip("psycopg")
    try:
        pg = PostgresServer.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        url = pg.create_database("lifecycle")
        project = make_project(slow={CRM: 6})
        doc = json.loads(project.path.read_text(encoding="utf-8"))
        doc["store"] = {"url": url}
        project.path.write_text(json.dumps(doc), encoding="utf-8")

        proc = project.start()
        wait_for(
            lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
            60,
            "the crm job to run",
        )
        # a clean (fast) stop: the test server runs with synchronous_commit=off, so an
        # immediate stop could lose the last commits, which no real outage test wants
        time.sleep(1)
        pg._run([pg.pg_ctl, "-D", str(pg.data_dir), "-m", "fast", "-w", "stop"])
        first = finish(proc, timeout=180)

        assert first.returncode == 4, first
        assert "Traceback" not in first.stderr, first.stderr
        assert "luigi-interface" not in first.stderr, first.stderr
        message = first.stdout + first.stderr
        assert f"metadata store postgresql+psycopg://postgres@127.0.0.1:{pg.port}" in message
        assert "PASS=" in first.stdout.strip().splitlines()[-1], first.stdout
        assert [a["kind"] for a in project.alert_lines()] == ["store-failure"]

        pg._pg_ctl_start(60)
        wait_for(lambda: jobs_for(project.sandbox, CRM)[0]["status"] != "running", 60, "crm")
        second = project.run()
        assert second.returncode == 0, second
        assert len(jobs_for(project.sandbox, CRM)) == 1, "the re-run synced crm again"
        assert len(jobs_for(project.sandbox, EVENTS)) == 1
        runs = _history(project)
        assert runs[0]["status"] == "succeeded"
        assert "running" not in {r["status"] for r in runs}, runs
    finally:
        pg.stop()
