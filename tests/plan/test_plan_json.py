"""plan --json is stable and documented: its keys are fixed, and the docs name each one."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from plan_helpers import CRM, Project, world_data

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pipeline-file.md"
README = Path(__file__).resolve().parents[2] / "README.md"

TOP = {"format_version", "file", "exit_code", "drifted", "summary", "connections"}
SUMMARY = {"connections", "in_sync", "drifted", "errors", "changes", "source_changes", "blockers"}
CONNECTION = {
    "connection",
    "connection_id",
    "name",
    "steps",
    "status",
    "changes",
    "source_changes",
    "blockers",
    "notes",
    "error",
    "patch",
}
CHANGE = {"path", "action", "airbyte", "intended", "message"}
SOURCE_CHANGE = {"kind", "stream", "field", "breaking", "message"}


def test_plan_json_keys_are_stable(make_project: Callable[..., Project]) -> None:
    world = world_data(
        faults={
            "schema": {
                "Postgres CRM": {
                    "after_discovers": 1,
                    "add_columns": {"users": [{"name": "phone", "type": "string"}]},
                }
            }
        }
    )
    project = make_project(world)
    project.plan()  # the first discover; the source changes after it
    project.patch(CRM, {"status": "inactive"})

    doc = project.plan_json()

    assert set(doc) == TOP and doc["format_version"] == 1 and doc["exit_code"] == 6
    assert set(doc["summary"]) == SUMMARY
    crm = doc["connections"][0]
    assert set(crm) == CONNECTION and crm["status"] == "drifted"
    assert all(set(c) == CHANGE for c in crm["changes"])
    assert {c["path"] for c in crm["changes"]} == {"status", "catalog"}
    assert [set(c) for c in crm["source_changes"]] == [SOURCE_CHANGE]
    assert crm["patch"]["status"] == "active"
    assert {s["name"] for s in crm["patch"]["configurations"]["streams"]} == {"users", "orders"}
    assert doc["connections"][1]["status"] == "in_sync" and doc["connections"][1]["patch"] is None


def test_docs_and_tour_show_plan_apply_preflight() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    section = docs.split("## Configuration as code", 1)[1].split("\n## ", 1)[0]
    for key in TOP | SUMMARY | CONNECTION | CHANGE | SOURCE_CHANGE:
        assert re.search(rf'"{key}"', section), f"plan --json key {key!r} is not documented"
    for command in ("luigi-airbyte plan", "luigi-airbyte apply", "luigi-airbyte preflight"):
        assert command in section
    tour = README.read_text(encoding="utf-8").split("## A five-minute tour", 1)[1]
    tour = tour.split("\n## ", 1)[0]
    for command in ("luigi-airbyte plan", "luigi-airbyte apply", "luigi-airbyte preflight"):
        assert command in tour
