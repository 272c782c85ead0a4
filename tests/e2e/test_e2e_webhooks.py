"""Webhooks end to end: ``webhook configure`` against the sandbox, ``webhook serve`` on a
free loopback port, then a run: each sync's payload arrives at the receiver and lands in
the store's webhook_hints table once (a replayed push too); a payload for another
connection and a wrong token are ignored; Ctrl-C stops the receiver with exit 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from e2e.e2e_helpers import (
    CLI,
    CRM,
    EVENTS,
    Project,
    clean_env,
    cli,
    connection_id,
    free_port,
    jobs_for,
    wait_for,
)
from luigi_airbyte.store import Store

TOKEN = "e2e-path-token-1234"


@pytest.fixture
def hook_env() -> dict[str, str]:
    return {
        "LUIGI_AIRBYTE_WEBHOOK__LISTEN": f"127.0.0.1:{free_port()}",
        "LUIGI_AIRBYTE_WEBHOOK__TOKEN": TOKEN,  # a literal in the env becomes env:...
    }


@pytest.fixture
def serve(project: Project, hook_env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [CLI, "webhook", "serve", str(project.path)],
        cwd=project.root,
        env=clean_env(**hook_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    host, port = hook_env["LUIGI_AIRBYTE_WEBHOOK__LISTEN"].split(":")

    def listening() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
        except OSError:
            return False
        return True

    wait_for(listening, timeout=30, what="webhook serve to listen")
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def hints(project: Project) -> list[tuple[str, int]]:
    with Store(f"sqlite:///{project.state_dir / 'metadata.db'}") as store:
        return [(h.connection_id, h.job_id) for h in store.hints_after(0)]


def test_configure_then_a_run_lands_each_push_in_the_store_once(
    project: Project, hook_env: dict[str, str], serve: subprocess.Popen[str]
) -> None:
    configured = cli(project, "webhook", "configure", str(project.path), **hook_env)
    assert configured.returncode == 0, configured.stderr
    listen = hook_env["LUIGI_AIRBYTE_WEBHOOK__LISTEN"]
    assert f"-> http://{listen}/***" in configured.stdout
    assert TOKEN not in configured.stdout + configured.stderr
    ws = project.sandbox.engine.get_workspace(project.sandbox.workspace_id)
    assert ws["notifications"]["success"]["webhook"] == {
        "enabled": True,
        "url": f"http://{listen}/{TOKEN}",
    }
    project.sandbox.set_faults(webhooks={"replay_count": 1})  # the first push comes twice

    result = project.run()

    assert result.returncode == 0, result
    jobs = {connection_id(project.sandbox, n): jobs_for(project.sandbox, n) for n in (CRM, EVENTS)}
    expected = sorted((cid, js[0]["jobId"]) for cid, js in jobs.items())
    wait_for(lambda: len(project.sandbox.webhook_deliveries()) == 3, what="3 deliveries")
    wait_for(lambda: sorted(hints(project)) == expected, timeout=10, what="the hints")
    outcomes = sorted(d["outcome"] for d in project.sandbox.webhook_deliveries())
    assert outcomes == ["replayed", "sent", "sent"]
    # the receiver answers 200 to a new hint and 202 (ignored) to the replay
    statuses = {(d["outcome"], d["status"]) for d in project.sandbox.webhook_deliveries()}
    assert statuses == {("sent", 200), ("replayed", 202)}

    # a push for a connection of no pipeline step, and a wrong token: ignored / refused
    base = f"http://{listen}"
    other = {
        "data": {
            "connection": {"id": "00000000-0000-4000-8000-000000000001"},
            "jobId": 999,
            "success": True,
        }
    }
    assert httpx.post(f"{base}/{TOKEN}", json=other).status_code == 202
    payload: dict[str, Any] = {
        "data": {"connection": {"id": expected[0][0]}, "jobId": 998, "success": True}
    }
    assert httpx.post(f"{base}/wrong", json=payload).status_code == 404
    assert httpx.post(f"{base}/{TOKEN}", content=b"{oops").status_code == 400
    assert sorted(hints(project)) == expected

    serve.send_signal(signal.SIGINT)
    out, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    assert TOKEN not in out + err
    assert "accepted 2" in err and "replay 1" in err and "unknown_connection 1" in err


def test_configure_exits_4_when_airbyte_refuses(project: Project, hook_env: dict[str, str]) -> None:
    project.sandbox.set_faults(http=[{"endpoint": "PATCH /workspaces/*", "status": 403}])

    result = cli(project, "webhook", "configure", str(project.path), "--json", **hook_env)

    assert result.returncode == 4, result.stderr
    error = json.loads(result.stdout)["error"]
    assert "403" in error["message"] and "editor rights" in error["message"]


def test_a_literal_token_on_the_command_line_is_refused(project: Project) -> None:
    result = cli(project, "webhook", "serve", str(project.path), "--token-ref", "s3cr3t-literal")

    assert result.returncode == 3, result.stderr
    assert "s3cr3t-literal" not in result.stdout + result.stderr
