"""Acceptance: each kind of drift is shown as a readable diff, and plan → apply → plan
ends with an empty plan (exit 6, then 0, then 0)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from plan_helpers import CRM, EVENTS, Project, intended_expects, world_data


def _users(project: Project) -> dict[str, Any]:
    streams = project.connection(CRM)["configurations"]["streams"]
    return next(s for s in streams if s["name"] == "users")


def _crm_streams(project: Project) -> list[dict[str, Any]]:
    streams = project.connection(CRM)["configurations"]["streams"]
    return [{k: s[k] for k in ("name", "syncMode", "cursorField", "primaryKey")} for s in streams]


def sync_mode_changed(project: Project) -> None:
    streams = _crm_streams(project)
    streams[0]["syncMode"] = "full_refresh_overwrite"
    project.patch(CRM, {"configurations": {"streams": streams}})


def stream_deselected(project: Project) -> None:
    streams = [s for s in _crm_streams(project) if s["name"] != "orders"]
    project.patch(CRM, {"configurations": {"streams": streams}})


def connection_disabled(project: Project) -> None:
    project.patch(CRM, {"status": "inactive"})


def schedule_changed(project: Project) -> None:
    project.patch(EVENTS, {"schedule": {"scheduleType": "cron", "cronExpression": "0 30 4 * * ?"}})


SCENARIOS: list[tuple[str, Callable[[Project], None], list[str]]] = [
    (
        "sync mode changed",
        sync_mode_changed,
        [
            "~ streams.users.sync_mode",
            "'full_refresh_overwrite' -> 'incremental_deduped_history'",
        ],
    ),
    ("stream deselected", stream_deselected, ["+ streams.orders", "not selected -> selected"]),
    ("connection disabled", connection_disabled, ["~ status", "'inactive' -> 'active'"]),
    (
        "schedule changed",
        schedule_changed,
        [f"~ connection '{EVENTS}'", "~ schedule", "cron '0 30 4 * * ?' -> cron '0 0 * * * ?'"],
    ),
]


@pytest.mark.parametrize(("scenario", "change", "lines"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_airbyte_side_drift_is_shown_and_applied(
    project: Project, scenario: str, change: Callable[[Project], None], lines: list[str]
) -> None:
    assert project.plan().exit_code == 0
    change(project)

    drifted = project.plan()
    assert drifted.exit_code == 6, drifted.stdout
    for line in lines:
        assert line in drifted.stdout, drifted.stdout

    applied = project.apply("--yes")
    assert applied.exit_code == 0, applied.stdout
    after = project.plan()
    assert after.exit_code == 0, after.stdout
    assert "No changes" in after.stdout
    doc = project.plan_json()
    assert doc["drifted"] is False and doc["summary"]["changes"] == 0


def _schema_world(**fault: Any) -> dict[str, Any]:
    """The CRM source changes after the first discover: plan once, then the source moves."""
    return world_data(faults={"schema": {"Postgres CRM": {"after_discovers": 1, **fault}}})


def test_column_added_at_the_source(make_project: Callable[..., Project]) -> None:
    project = make_project(
        _schema_world(add_columns={"users": [{"name": "phone", "type": "string"}]})
    )
    assert project.plan().exit_code == 0  # the first discover: the source has not changed
    drifted = project.plan()
    assert drifted.exit_code == 6, drifted.stdout
    assert "source changes since the connection was saved:" in drifted.stdout
    assert "+ users.phone  (field added)" in drifted.stdout
    change = project.plan_json()["connections"][0]["source_changes"]
    assert change == [
        {
            "kind": "field_added",
            "stream": "users",
            "field": "phone",
            "breaking": False,
            "message": "new field users.phone at the source",
        }
    ]

    assert project.apply("--yes").exit_code == 0
    assert project.plan().exit_code == 0
    # the other selected stream survived the PATCH that refreshed the catalog
    assert {s["name"] for s in project.connection(CRM)["configurations"]["streams"]} == {
        "users",
        "orders",
    }


def test_cursor_removed_at_the_source(make_project: Callable[..., Project]) -> None:
    project = make_project(_schema_world(remove_columns={"users": ["updated_at"]}))
    assert project.plan().exit_code == 0
    drifted = project.plan()
    assert drifted.exit_code == 6, drifted.stdout
    assert "- users.updated_at  (field removed)" in drifted.stdout
    assert "! cursor updated_at of stream 'users' no longer exists at the source" in drifted.stdout
    assert "expect.streams.users.cursor" in drifted.stdout

    # apply cannot fix it: it says so, sends nothing, exits 6
    patches_before = _patches(project)
    refused = project.apply("--yes")
    assert refused.exit_code == 6, refused.stdout
    assert "needs a change in the file first" in refused.stdout
    assert _patches(project) == patches_before

    # the file follows the source (the plan's fix); then apply, then an empty plan
    expects = intended_expects()
    expects[CRM]["streams"]["users"]["cursor"] = ["id"]
    project.write(expects)
    assert project.plan().exit_code == 6
    assert project.apply("--yes").exit_code == 0
    assert _patches(project) == patches_before + 1  # one request for the connection
    after = project.plan()
    assert after.exit_code == 0, after.stdout
    assert _users(project)["cursorField"] == ["id"]


def _patches(project: Project) -> int:
    return len(project.sandbox.requests(endpoint="PATCH /connections/{connectionId}"))
