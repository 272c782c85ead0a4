"""preflight: passes on the demo; each broken thing fails with its line and exit code."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from plan_helpers import CRM, EVENTS, Project, world_data

from luigi_airbyte.cli.app import cli
from luigi_airbyte.cli.quickstart_cmd import write_project
from luigi_airbyte.sandbox import Sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _lines(output: str) -> dict[str, str]:
    """check name -> its whole line, for the lines that failed."""
    return {
        line.split("  ", 2)[1].strip(): line
        for line in output.splitlines()
        if line.startswith("FAIL")
    }


def test_preflight_passes_on_the_demo(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> None:
    sb = airbyte_sandbox_factory(world_data())
    pipeline = write_project(tmp_path / "demo", sb)

    result = CliRunner().invoke(cli, ["preflight", str(pipeline)], catch_exceptions=False)

    assert result.exit_code == 0, result.stdout
    assert "FAIL" not in result.stdout
    for needle in (
        "ok    secret file:",
        "ok    airbyte.health",
        "ok    airbyte.token",
        f"ok    connection '{CRM}'",
        "check_connection succeeded",
        "ok    warehouse 'warehouse'",
        "ok    route jsonl:",
        f"ok    drift '{CRM}'",
        "preflight passed (exit 0)",
    ):
        assert needle in result.stdout, result.stdout
    doc = json.loads(CliRunner().invoke(cli, ["preflight", str(pipeline), "--json"]).stdout)
    assert doc["ok"] is True and doc["exit_code"] == 0
    assert {c["kind"] for c in doc["checks"]} == {
        "secret",
        "airbyte",
        "connection",
        "connector",
        "warehouse",
        "route",
        "drift",
    }


def _broken_secret(p: Project, tmp: Path) -> None:
    p.write(client_secret="file:/nonexistent/airbyte_secret")


def _broken_token(p: Project, tmp: Path) -> None:
    (tmp / "wrong").write_text("not-the-secret")
    (tmp / "wrong").chmod(0o600)
    p.write(client_secret=f"file:{tmp / 'wrong'}")


def _broken_connection(p: Project, tmp: Path) -> None:
    p.patch(CRM, {"status": "inactive"})


def _broken_check_connection(p: Project, tmp: Path) -> None:
    pass  # the world's source fails its check (see BROKEN)


def _broken_warehouse(p: Project, tmp: Path) -> None:
    (tmp / "wh.duckdb").mkdir()  # a directory where the database file should be
    p.write(extra={"warehouses": {"main": {"url": f"duckdb:///{tmp / 'wh.duckdb'}"}}})


def _broken_route(p: Project, tmp: Path) -> None:
    hook = f"webhook:http://127.0.0.1:{_free_port()}/hook"
    p.write(extra={"owners": {"data-platform": {"alerts": [hook]}}})


def _broken_drift(p: Project, tmp: Path) -> None:
    p.patch(EVENTS, {"schedule": {"scheduleType": "manual"}})


def _check_error_world() -> dict[str, Any]:
    data = world_data()
    data["sources"][0]["check_error"] = "Could not connect to crm.internal:5432: timeout"
    return data


BROKEN: list[tuple[str, Callable[[Project, Path], None], int, str, str]] = [
    ("secret", _broken_secret, 4, "secret file:/nonexistent/airbyte_secret", "airbyte_secret"),
    ("token", _broken_token, 4, "airbyte.token", "401"),
    ("connection", _broken_connection, 4, f"connection '{CRM}'", "is inactive"),
    (
        "check_connection",
        _broken_check_connection,
        4,
        "source",
        "check_connection failed: Could not connect to crm.internal:5432",
    ),
    ("warehouse", _broken_warehouse, 4, "warehouse 'main'", "wh.duckdb"),
    ("route", _broken_route, 4, "route webhook:http://127.0.0.1", "is not reachable"),
    ("drift", _broken_drift, 6, f"drift '{EVENTS}'", "schedule"),
]


@pytest.mark.parametrize(
    ("thing", "breaks", "code", "name", "detail"), BROKEN, ids=[b[0] for b in BROKEN]
)
def test_preflight_fails_on_each_broken_thing(
    make_project: Callable[..., Project],
    tmp_path: Path,
    thing: str,
    breaks: Callable[[Project, Path], None],
    code: int,
    name: str,
    detail: str,
) -> None:
    project = make_project(_check_error_world() if thing == "check_connection" else None)
    healthy = project.cli("preflight", str(project.path))
    if thing != "check_connection":
        assert healthy.exit_code == 0, healthy.stdout
    breaks(project, tmp_path)

    result = project.cli("preflight", str(project.path))

    assert result.exit_code == code, result.stdout
    failed = _lines(result.stdout)
    line = next((v for k, v in failed.items() if k.startswith(name)), None)
    assert line is not None, result.stdout
    assert detail in line, line
    if thing == "drift":  # drift alone: every other check passed
        assert list(failed) == [f"drift '{EVENTS}'"], result.stdout
        assert "luigi-airbyte apply" in line
    doc = json.loads(project.cli("preflight", str(project.path), "--json").stdout)
    assert doc["exit_code"] == code
    assert any(not c["ok"] and c["name"].startswith(name) for c in doc["checks"])


def test_preflight_reads_a_duckdb_warehouse_without_opening_it(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox], monkeypatch: Any
) -> None:
    """DuckDB lets one process hold a file at a time: an open by preflight, even read-only,
    fails the attempt of a sync (of a run beside it) that starts writing in that moment."""
    import duckdb

    sb = airbyte_sandbox_factory(world_data())
    pipeline = write_project(tmp_path / "demo", sb)
    warehouse = tmp_path / "demo" / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()  # a real DuckDB file, as the first sync leaves it
    opened: list[str] = []
    real_connect = duckdb.connect

    def spy(database: Any = ":memory:", *args: Any, **kwargs: Any) -> Any:
        opened.append(str(database))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy)

    result = CliRunner().invoke(cli, ["preflight", str(pipeline)], catch_exceptions=False)

    assert result.exit_code == 0, result.stdout
    assert "ok    warehouse 'warehouse'" in result.stdout
    assert str(warehouse) not in opened

    warehouse.write_bytes(b"PK\x03\x04 not a database at all")
    broken = CliRunner().invoke(cli, ["preflight", str(pipeline)], catch_exceptions=False)

    assert broken.exit_code == 4, broken.stdout
    line = _lines(broken.stdout)["warehouse 'warehouse'"]
    assert "is not a DuckDB database file" in line and "warehouse.duckdb" in line, line
    assert "point its url at the file" in line
