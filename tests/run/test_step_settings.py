"""Settings a pipeline file gives the client and the sync engine reach them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from rich.console import Console

from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.errors import ConfigError, LuigiAirbyteError
from luigi_airbyte.sandbox import Sandbox, demo_world

PIPELINE = """\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: {cid}, client_secret: "file:{secret}"}}
  {extra}
state_dir: state
owners: {{data: {{}}}}
pipelines:
  p:
    owner: data
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
        on_zero_rows: fail
        drop_threshold: 0.9
        on_drop: warn
        stuck_after: 10m
"""


@pytest.fixture
def sandbox(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Sandbox(demo_world(data_dir=tmp_path / "wh")) as sb:
        yield sb


def _write(tmp_path: Path, sb: Sandbox, extra: str = "") -> Path:
    secret = tmp_path / "secret"
    secret.write_text(sb.client_secret)
    os.chmod(secret, 0o600)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(url=sb.url, cid=sb.client_id, secret=secret, extra=extra))
    return path


def _quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


def test_config_api_none_is_never_probed(tmp_path: Path, sandbox: Sandbox) -> None:
    rt = Runtime.load(_write(tmp_path, sandbox, "config_api_url: none"), env={})
    try:
        assert rt.client().has_config_api() is False
        assert rt.client().get_job_details(1) is None
        assert not sandbox.requests("/api/v1/")
    finally:
        rt.close()


def test_config_api_auto_is_detected(tmp_path: Path, sandbox: Sandbox) -> None:
    rt = Runtime.load(_write(tmp_path, sandbox), env={})
    try:
        assert rt.settings.config_api_url == "auto"
        assert rt.client().has_config_api() is True
    finally:
        rt.close()


def test_a_bad_config_api_url_is_a_config_error(tmp_path: Path, sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError) as err:
        Runtime.load(_write(tmp_path, sandbox, "config_api_url: sometimes"), env={})
    assert "config_api_url" in str(err.value)


def test_step_outcome_rules_reach_the_runner(tmp_path: Path, sandbox: Sandbox) -> None:
    path = _write(tmp_path, sandbox)
    rt = Runtime.load(path, env={})
    try:
        graph = rt.graph("p")
        step = graph.node("crm").step
        settings = rt.executor()._sync_settings(step)  # type: ignore[arg-type]
        assert settings.zero_rows == "fail"
        assert settings.drop_threshold == 0.9
        assert settings.on_drop == "warn"
        assert settings.stuck_after == 600
    finally:
        rt.close()


def test_zero_rows_after_real_syncs_fails_the_step(tmp_path: Path, sandbox: Sandbox) -> None:
    path = _write(tmp_path, sandbox)
    first, _ = execute_run(path, run_date=dt.date(2026, 3, 1), console=_quiet())
    assert first == 0
    sandbox.set_faults(engine={"jobs": {"Postgres CRM → Warehouse": {"zero_records": True}}})
    second, doc = execute_run(path, run_date=dt.date(2026, 3, 2), console=_quiet(), as_json=True)
    assert second == 5
    step = next(s for s in doc["steps"] if s["name"] == "crm")
    assert step["status"] == "failed"
    assert "committed 0 rows" in step["message"]


def test_names_resolve_from_one_listing(tmp_path: Path, sandbox: Sandbox) -> None:
    rt = Runtime.load(_write(tmp_path, sandbox, "workspace: Default Workspace"), env={})
    try:
        sandbox.clear_requests()
        crm = rt.connection("Postgres CRM → Warehouse")
        events = rt.connection("Events API → Warehouse")
        assert crm.connection_id != events.connection_id
        assert crm.workspace_id == rt.workspace_id()
        assert len(sandbox.requests("/connections", method="GET")) == 1
        assert len(sandbox.requests("/workspaces", method="GET")) == 1
        with pytest.raises(LuigiAirbyteError, match="No Such"):
            rt.connection("No Such Connection")
        assert len(sandbox.requests("/connections", method="GET")) == 1
    finally:
        rt.close()
