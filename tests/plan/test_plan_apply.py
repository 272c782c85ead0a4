"""apply: confirmation, one PATCH per connection, a refusal midway, and no secret in a plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from plan_helpers import CRM, EVENTS, Project, intended_expects, world_data

ARCHIVE = "Events API → Archive"


def _three_connections() -> dict[str, Any]:
    data = world_data()
    data["connections"].append(
        {
            "name": ARCHIVE,
            "source": "Events API",
            "destination": "Warehouse",
            "prefix": "archive_",
            "streams": [{"name": "events", "sync_mode": "full_refresh_append"}],
        }
    )
    return data


def _state(project: Project, name: str) -> tuple[str, str, str | None]:
    c = project.connection(name)
    return c["status"], c["schedule"]["scheduleType"], c["schedule"].get("cronExpression")


def test_a_refusal_midway_is_reported_and_the_others_keep_their_state(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(_three_connections())
    expects = intended_expects()
    # Airbyte refuses this cron expression (hour 25): the second connection fails
    expects[EVENTS]["schedule"] = {"type": "cron", "cron": "0 0 25 * * ?"}
    expects[ARCHIVE] = {"prefix": "archive_", "streams": {"events": {}}}
    project.write(expects)
    for name in (CRM, EVENTS, ARCHIVE):
        project.patch(name, {"status": "inactive"})
    events_before = _state(project, EVENTS)
    assert project.plan().exit_code == 6

    result = project.apply("--yes")

    assert result.exit_code == 4, result.stdout
    assert f"applied: '{CRM}'" in result.stdout
    assert f"FAILED: '{EVENTS}'" in result.stdout
    assert "422" in result.stdout and "Invalid cron expression" in result.stdout  # Airbyte's words
    assert f"not attempted: '{ARCHIVE}'" in result.stdout
    assert _state(project, CRM)[0] == "active"  # applied, and stays applied
    assert _state(project, EVENTS) == events_before  # untouched: not even its valid status
    assert _state(project, ARCHIVE)[0] == "inactive"  # never sent

    doc = json.loads(project.apply("--yes", "--json").stdout)
    assert doc["apply"]["applied"] == [] and doc["apply"]["failed"] == EVENTS
    assert doc["apply"]["not_attempted"] == [ARCHIVE]
    assert "Invalid cron expression" in doc["apply"]["failure"]


def test_one_patch_per_connection_with_every_selected_stream(project: Project) -> None:
    project.patch(CRM, {"status": "inactive"})
    streams = project.connection(CRM)["configurations"]["streams"]
    users = next(s for s in streams if s["name"] == "users")
    users["syncMode"] = "full_refresh_overwrite"
    project.patch(CRM, {"configurations": {"streams": streams}})
    project.sandbox.clear_requests()

    assert project.apply("--yes").exit_code == 0

    patches = project.sandbox.requests(endpoint="PATCH /connections/{connectionId}")
    assert len(patches) == 1  # status and streams in one request: all or nothing
    writes = {
        r["endpoint"]
        for r in project.sandbox.requests()
        if r["method"] != "GET" and r["api"] == "public"
    }
    # never a source, a destination or a secret: only the token and the connection
    assert writes == {"POST /applications/token", "PATCH /connections/{connectionId}"}
    after = {s["name"]: s for s in project.connection(CRM)["configurations"]["streams"]}
    assert set(after) == {"users", "orders"}  # orders was not named as changed, yet kept
    assert after["orders"]["syncMode"] == "incremental_append"
    assert after["users"]["syncMode"] == "incremental_deduped_history"


def test_apply_asks_first_and_no_means_nothing_changes(project: Project) -> None:
    project.patch(CRM, {"status": "inactive"})

    answered_no = project.apply(input="n\n")

    assert answered_no.exit_code != 0
    assert "Apply these changes to Airbyte?" in answered_no.stdout
    assert project.connection(CRM)["status"] == "inactive"
    assert project.sandbox.requests(endpoint="PATCH /connections/{connectionId}") == []

    answered_yes = project.apply(input="y\n")
    assert answered_yes.exit_code == 0
    assert project.connection(CRM)["status"] == "active"


def test_apply_json_needs_yes(project: Project) -> None:
    project.patch(CRM, {"status": "inactive"})

    result = project.apply("--json")

    assert result.exit_code == 3
    assert "--yes" in json.loads(result.stdout)["error"]["message"] + result.stdout
    assert project.connection(CRM)["status"] == "inactive"


def test_apply_one_connection_only(project: Project) -> None:
    project.patch(CRM, {"status": "inactive"})
    project.patch(EVENTS, {"status": "inactive"})

    assert project.apply("--yes", "--connection", EVENTS).exit_code == 0

    assert project.connection(EVENTS)["status"] == "active"
    assert project.connection(CRM)["status"] == "inactive"


CANARY = "CANARY-7f3e9b"


def _canary_world() -> dict[str, Any]:
    data = world_data()
    for src in data["sources"]:
        src["configuration"] = {
            **src.get("configuration", {}),
            "password": f"{CANARY}-pw",
            "api_key": f"{CANARY}-key",
            "client_secret": f"{CANARY}-cs",
            "access_token": f"{CANARY}-tok",
        }
    for dst in data["destinations"]:
        dst["configuration"] = {"password": f"{CANARY}-dpw", "credentials_json": f"{CANARY}-cj"}
    for app in data["applications"]:
        app["client_secret"] = f"{CANARY}-app"
    return data


def test_plan_never_shows_or_diffs_a_secret(make_project: Callable[..., Project]) -> None:
    project = make_project(_canary_world())
    assert CANARY in project.sandbox.client_secret  # the credential itself is a canary too
    project.patch(CRM, {"status": "inactive"})
    project.patch(EVENTS, {"schedule": {"scheduleType": "manual"}})

    text = project.plan()
    again = project.plan()  # twice: a masked value must not turn into a diff on re-read
    as_json = project.plan("--json")

    assert text.exit_code == again.exit_code == as_json.exit_code == 6
    for out in (text.stdout + text.stderr, as_json.stdout + as_json.stderr):
        assert CANARY not in out
        assert "****" not in out  # no masked value either: nothing it cannot see is diffed
    paths = json.loads(as_json.stdout)["connections"]
    assert {c["path"] for p in paths for c in p["changes"]} == {"status", "schedule"}
    # it never reads a source or a destination (where Airbyte keeps connector secrets)
    reads = [r["path"] for r in project.sandbox.requests(method="GET")]
    assert not [p for p in reads if "/sources/" in p or "/destinations/" in p]
