"""Running the sandbox: ``Sandbox``, ``serve`` as a process, the admin API, the pytest plugin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from sandbox_http_helpers import FAST_CONNECTION, HTTP, connection_id, fast_world, token_for

from luigi_airbyte.sandbox import Sandbox, demo_world
from luigi_airbyte.sandbox.world import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

REPO = Path(__file__).resolve().parents[3]


def test_sandbox_context_manager(tmp_path: Path) -> None:
    with Sandbox(fast_world(tmp_path)) as sb:
        assert sb.url == f"http://127.0.0.1:{sb.port}/api/public/v1"
        # Airbyte's documented form, and the spec's form beside it (issue 9)
        assert sb.config_api_url == f"http://127.0.0.1:{sb.port}/api/v1"
        assert sb.config_api_root == f"http://127.0.0.1:{sb.port}/api"
        assert HTTP.get(f"{sb.config_api_url}/health").status_code == 200
        assert sb.info()["config_api_root"] == sb.config_api_root
        assert sb.base_url == f"http://127.0.0.1:{sb.port}"
        assert sb.port > 0
        assert (sb.client_id, sb.client_secret) == ("http-tests-client", "http-tests-secret")
        assert HTTP.get(f"{sb.url}/health").text == "Successful operation"
        info = HTTP.get(f"{sb.base_url}/_sandbox/info").json()
        assert info == sb.info()
        assert info["workspace_id"] == sb.workspace_id
        assert sb.engine is not None
        with pytest.raises(RuntimeError):
            sb.start()
        url = sb.url
    with pytest.raises(httpx.ConnectError):
        HTTP.get(f"{url}/health")
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.engine
    sb.stop()  # idempotent


def test_world_from_a_yaml_file_and_state_path(tmp_path: Path) -> None:
    world_file = tmp_path / "world.yaml"
    world_file.write_text(
        textwrap.dedent("""\
        workspaces: [{name: Files}]
        sources:
          - {name: S, type: generator, streams: [{name: items, size: 5}]}
        destinations:
          - {name: D, type: duckdb, path: out.duckdb}
        connections:
          - {name: C, source: S, destination: D, job_duration_seconds: 0.1}
        applications:
          - {name: app, client_id: cid, client_secret: csecret}
        """)
    )
    state = tmp_path / "state.json"
    sb = Sandbox(world_file, state_path=state).start()
    try:
        token = token_for(sb, "cid", "csecret")
        headers = {"Authorization": f"Bearer {token}"}
        conn = connection_id(sb, "C")
        job = HTTP.post(
            f"{sb.url}/jobs", json={"connectionId": conn, "jobType": "sync"}, headers=headers
        ).json()
    finally:
        sb.stop()
    # a restarted sandbox on the same state knows the job, and still accepts the old token
    with Sandbox(world_file, state_path=state) as again:
        r = HTTP.get(f"{again.url}/jobs/{job['jobId']}", headers=headers)
        assert r.status_code == 200
        assert r.json()["connectionId"] == conn


def test_port_in_use_is_an_os_error(tmp_path: Path) -> None:
    with Sandbox(fast_world(tmp_path)) as first, pytest.raises(OSError, match="cannot bind"):
        Sandbox(fast_world(tmp_path), port=first.port).start()


def test_admin_api(sb: Sandbox) -> None:
    admin = f"{sb.base_url}/_sandbox"
    headers = {"Authorization": f"Bearer {token_for(sb)}"}
    conn = connection_id(sb, FAST_CONNECTION)
    HTTP.post(f"{sb.url}/jobs", json={"connectionId": conn, "jobType": "sync"}, headers=headers)
    HTTP.get(f"{sb.base_url}/v1/jobs/1", headers=headers)
    log = HTTP.get(f"{admin}/requests").json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/api/public/v1/applications/token", 200),
        ("POST", "/api/public/v1/jobs", 200),
        ("GET", "/v1/jobs/1", 200),
    ]
    assert set(log[0]) >= {"method", "path", "query", "endpoint", "status", "time", "durationMs"}
    by_path = HTTP.get(f"{admin}/requests", params={"path": "/jobs/1"}).json()["requests"]
    assert [e["path"] for e in by_path] == ["/v1/jobs/1"]
    by_endpoint = HTTP.get(f"{admin}/requests", params={"endpoint": "GET /jobs/{jobId}"}).json()
    assert len(by_endpoint["requests"]) == 1
    assert len(sb.requests("/api/public/v1/*")) == 2
    assert HTTP.delete(f"{admin}/requests").json() == {"cleared": 3}
    assert sb.requests() == []
    # admin calls themselves are not journaled
    assert HTTP.get(f"{admin}/requests").json() == {"requests": []}

    # A config-API job call names its job in the body: the journal says which.
    HTTP.post(f"{sb.config_api_url}/jobs/get_without_logs", json={"id": 1}, headers=headers)
    HTTP.post(f"{sb.config_api_url}/jobs/get", content=b"not json", headers=headers)
    config = sb.requests("/api/v1/*")
    assert [(e["path"], e.get("jobId")) for e in config] == [
        ("/api/v1/jobs/get_without_logs", 1),
        ("/api/v1/jobs/get", None),
    ]
    HTTP.delete(f"{admin}/requests")

    terminal = HTTP.get(f"{admin}/terminal-times").json()["terminalTimes"]
    assert set(terminal) <= {"1"}
    counts = HTTP.get(f"{admin}/destination-counts/{conn}")
    assert counts.status_code == 200
    assert HTTP.get(f"{admin}/destination-counts/nope").status_code == 404
    assert HTTP.get(f"{admin}/nope").status_code == 404
    assert HTTP.get(f"{admin}/faults").json().keys() == {"http", "engine", "webhooks"}


def test_serve_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    world = tmp_path / "world.json"  # JSON is YAML too
    world.write_text(json.dumps(fast_world(tmp_path)))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "luigi_airbyte.sandbox", "--world", str(world), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) == {
            "url",
            "config_api_url",
            "config_api_root",
            "client_id",
            "client_secret",
            "workspace_id",
        }
        assert info["config_api_url"].endswith("/api/v1")
        assert info["config_api_root"] + "/v1" == info["config_api_url"]
        assert info["url"].startswith("http://127.0.0.1:")
        assert info["url"].endswith("/api/public/v1")
        assert HTTP.get(f"{info['url']}/health").status_code == 200
        token = HTTP.post(
            f"{info['url']}/applications/token",
            data={"client_id": info["client_id"], "client_secret": info["client_secret"]},
        )
        assert token.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
        assert proc.stderr is not None
        assert "shutting down" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_main_reports_a_bad_world(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("connections: [{name: x}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "luigi_airbyte.sandbox", "--world", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 3
    assert result.stdout == ""
    assert "connections[0].source" in result.stderr


def test_the_plugin_fixture_gives_the_demo_world(airbyte_sandbox: Sandbox) -> None:
    assert airbyte_sandbox.client_id == DEMO_CLIENT_ID
    r = HTTP.post(
        f"{airbyte_sandbox.url}/applications/token",
        data={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
    )
    assert r.status_code == 200
    assert airbyte_sandbox.world.connections[0].name == demo_world().connections[0].name


@pytest.mark.sandbox_world(
    {
        "workspaces": [{"name": "Marked"}],
        "applications": [{"name": "a", "client_id": "m", "client_secret": "s"}],
    }
)
def test_the_marker_picks_the_world(airbyte_sandbox: Sandbox) -> None:
    assert airbyte_sandbox.client_id == "m"
    token = token_for(airbyte_sandbox, "m", "s")
    r = HTTP.get(
        f"{airbyte_sandbox.url}/workspaces/{airbyte_sandbox.workspace_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.json()["name"] == "Marked"


def test_the_plugin_in_a_fresh_pytest_run(tmp_path: Path) -> None:
    (tmp_path / "worlds").mkdir()
    (tmp_path / "worlds" / "w.yaml").write_text(
        "workspaces: [{name: FromFile}]\n"
        "applications: [{name: a, client_id: f, client_secret: s}]\n"
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent("""\
        import httpx, pytest

        @pytest.mark.sandbox_world("worlds/w.yaml")
        def test_file_world(airbyte_sandbox):
            assert airbyte_sandbox.client_id == "f"
            r = httpx.get(airbyte_sandbox.url + "/health")
            assert r.text == "Successful operation"

        def test_factory(airbyte_sandbox_factory):
            a = airbyte_sandbox_factory()
            b = airbyte_sandbox_factory({"workspaces": [{"name": "B"}]})
            assert a.port != b.port
            assert b.world.workspaces[0].name == "B"

        @pytest.mark.sandbox_world(1, 2)
        def test_bad_marker(airbyte_sandbox):
            pass
        """)
    )
    # Autoloading every installed plugin costs seconds; this run loads ours by name. (That the
    # entry point registers it is shown by this file: it uses the fixtures with no conftest.)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "luigi_airbyte.testing.plugin", str(tmp_path)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert "2 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert "sandbox_world takes exactly one argument" in result.stdout
