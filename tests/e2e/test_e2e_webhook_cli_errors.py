"""``webhook serve`` and ``webhook configure`` refuse bad input before anything happens:
exit 3, a message naming the field and the fix, no request to Airbyte, no metadata store
written, and no secret printed (docs/exit-codes.md, docs/webhooks.md)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from e2e.e2e_helpers import Project, cli

SECRET = "PASSWDSECRET"


def nothing_happened(project: Project) -> None:
    assert project.sandbox.requests() == []
    assert not project.state_dir.exists() or list(project.state_dir.iterdir()) == []


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


@pytest.mark.parametrize("how", ["cli", "env"])
def test_serve_on_an_unresolvable_host_exits_3_before_touching_airbyte(
    project: Project, how: str
) -> None:
    listen = "256.1.1.1:8000"
    args = ["--listen", listen] if how == "cli" else []
    env = {"LUIGI_AIRBYTE_WEBHOOK__LISTEN": listen} if how == "env" else {}
    project.sandbox.clear_requests()

    result = cli(project, "webhook", "serve", str(project.path), *args, **env)

    assert result.returncode == 3, result.stderr
    assert "cannot listen on 256.1.1.1:8000" in result.stderr
    assert "use an IP address or a host name of this machine" in result.stderr
    assert "free port" not in result.stderr
    assert ("--listen" if how == "cli" else "LUIGI_AIRBYTE_WEBHOOK__LISTEN") in result.stderr
    nothing_happened(project)


def test_serve_on_a_port_in_use_exits_3_before_touching_airbyte(
    project: Project, busy_port: int
) -> None:
    project.sandbox.clear_requests()

    result = cli(
        project, "webhook", "serve", str(project.path), "--listen", f"127.0.0.1:{busy_port}"
    )

    assert result.returncode == 3, result.stderr
    assert f"cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    assert "choose a free port or stop what holds it" in result.stderr
    nothing_happened(project)


def test_a_bad_address_is_reported_at_once_even_with_airbyte_down(project: Project) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens there once closed
    project.write(url=f"http://127.0.0.1:{dead}/api/public/v1")
    started = time.monotonic()

    result = cli(project, "webhook", "serve", str(project.path), "--listen", "256.1.1.1:8000")

    assert result.returncode == 3, result.stderr
    assert "cannot listen on 256.1.1.1:8000" in result.stderr
    assert time.monotonic() - started < 15
    assert not project.state_dir.exists() or list(project.state_dir.iterdir()) == []


def test_configure_refuses_a_url_with_a_password(project: Project) -> None:
    project.sandbox.clear_requests()

    result = cli(
        project,
        "webhook",
        "configure",
        str(project.path),
        "--url",
        f"https://u:{SECRET}@hooks.example.com/h",
    )

    assert result.returncode == 3, result.stderr
    assert "--url" in result.stderr and "user:password@" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    nothing_happened(project)
    ws = project.sandbox.engine.get_workspace(project.sandbox.workspace_id)
    assert SECRET not in str(ws["notifications"])


@pytest.mark.parametrize(
    ("url", "token", "expected"),
    [
        ("https://hooks.example.com/h", None, "https://hooks.example.com/h"),
        (
            "https://hooks.example.com/h?x=1",
            "e2e-path-token-1234",
            "https://hooks.example.com/h/e2e-path-token-1234?x=1",
        ),
        (
            "https://hooks.example.com/h/",
            "e2e-path-token-1234",
            "https://hooks.example.com/h/e2e-path-token-1234",
        ),
    ],
)
def test_configure_sets_the_url_with_the_token_as_a_path_segment(
    project: Project, url: str, token: str | None, expected: str
) -> None:
    env = {"HOOKTOK": token, "LUIGI_AIRBYTE_WEBHOOK__TOKEN": "env:HOOKTOK"} if token else {}

    result = cli(project, "webhook", "configure", str(project.path), "--url", url, **env)

    assert result.returncode == 0, result.stderr
    ws = project.sandbox.engine.get_workspace(project.sandbox.workspace_id)
    assert ws["notifications"]["success"]["webhook"]["url"] == expected
    shown = expected.replace(token, "***") if token else expected
    assert f"-> {shown}" in result.stdout
    if token:
        assert token not in result.stdout + result.stderr
