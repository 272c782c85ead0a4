"""Without Airbyte's config API (Cloud): plan still diffs the settings, finds streams the
source dropped through GET /streams, and says what it could not check."""

from __future__ import annotations

from collections.abc import Callable

from plan_helpers import CRM, Project, intended_expects, world_data


def test_plan_and_preflight_without_the_config_api(make_project: Callable[..., Project]) -> None:
    project = make_project(
        world_data(faults={"schema": {"Postgres CRM": {"remove_streams": ["users"]}}})
    )
    project.write(extra={"airbyte": {"config_api_url": "none"}})
    project.patch(CRM, {"status": "inactive"})

    result = project.plan()

    assert result.exit_code == 6, result.stdout
    assert "~ status" in result.stdout
    assert "! stream 'users' is not offered by the source any more" in result.stdout
    assert "need Airbyte's config API" in result.stdout  # said, not silently skipped
    config_calls = [r for r in project.sandbox.requests() if r["path"].startswith("/api/v1/")]
    assert config_calls == []

    preflight = project.cli("preflight", str(project.path))
    assert "not checked: Airbyte's config API is not available" in preflight.stdout


def test_one_discover_per_source(make_project: Callable[..., Project]) -> None:
    data = world_data()
    data["connections"].append(
        {
            "name": "Events API → Archive",
            "source": "Events API",
            "destination": "Warehouse",
            "prefix": "archive_",
            "streams": [{"name": "events", "sync_mode": "full_refresh_append"}],
        }
    )
    project = make_project(data)
    expects = intended_expects()
    expects["Events API → Archive"] = {"prefix": "archive_"}
    project.write(expects)

    assert project.plan().exit_code == 0
    discovers = project.sandbox.requests("/api/v1/sources/discover_schema")
    assert len(discovers) == 2  # two sources, three connections
