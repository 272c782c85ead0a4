"""Preflight failures exit 4 before any sync starts, and say what is wrong."""

from __future__ import annotations

from collections.abc import Callable

from e2e.e2e_helpers import (
    CRM,
    Project,
    RunResult,
    connection_id,
    default_steps,
    free_port,
    job_posts,
    world_data,
)


def _assert_preflight_failure(project: Project, *needles: str) -> RunResult:
    result = project.run()
    assert result.returncode == 4, result
    assert "preflight failed; no sync was started" in result.stderr
    for needle in needles:
        assert needle in result.stderr, result
    assert job_posts(project.sandbox) == 0
    return result


def test_unknown_connection_is_named(project: Project) -> None:
    steps = default_steps()
    steps[1]["connection"] = "Events API -> Warehouse"  # ASCII arrow: a near miss
    project.write(steps)

    _assert_preflight_failure(
        project, "connection 'Events API -> Warehouse'", "no connection named"
    )


def test_wrong_client_secret_is_refused(project: Project) -> None:
    project.write_secret("not-the-secret")

    result = _assert_preflight_failure(project, "applications/token returned 401")
    assert "not-the-secret" not in result.stderr


def test_inactive_connection(project: Project) -> None:
    project.sandbox.engine.patch_connection(
        connection_id(project.sandbox, CRM), {"status": "inactive"}
    )

    _assert_preflight_failure(project, f"connection '{CRM}'", "is inactive")


def test_unreachable_airbyte(project: Project) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/public/v1"
    project.write(url=closed)

    _assert_preflight_failure(project, "airbyte.health", closed.split("/api")[0])
    assert project.sandbox.requests() == []


def test_missing_secret_file_names_the_reference(project: Project) -> None:
    project.write(client_secret="file:/nonexistent/airbyte_secret")

    _assert_preflight_failure(project, "/nonexistent/airbyte_secret")


def test_deleted_connection_gets_its_own_hint(make_project: Callable[..., Project]) -> None:
    """Airbyte marks a deleted connection ``deprecated``: it cannot be enabled again, so
    the hint points at a live connection instead of "enable it"."""
    world = world_data()
    for conn in world["connections"]:
        if conn["name"] == CRM:
            conn["status"] = "deprecated"
    project = make_project(world)
    steps = default_steps()
    steps[0]["connection"] = connection_id(project.sandbox, CRM)  # deleted: found by id
    project.write(steps)

    result = _assert_preflight_failure(project, "is deprecated", "was deleted in Airbyte")
    assert "connections list" in result.stderr
    assert "enable it" not in result.stderr
