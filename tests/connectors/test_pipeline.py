"""Whole pipelines against real connectors: drift from discover, counts, SQL, dbt."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.helpers import FAKER_CONFIG
from e2e.e2e_helpers import Project
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv

# the first test on a fresh machine builds the connector environment (minutes)
pytestmark = [pytest.mark.connectors, pytest.mark.timeout(900)]
TINY = [sys.executable, str(Path(__file__).with_name("tiny_connector.py"))]

MODEL = """\
select u.id as user_id, u.name, count(p.id) as purchases
from f_users u left join f_purchases p on p.user_id = u.id
group by u.id, u.name
"""


def world(source: dict[str, Any], streams: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "workspaces": [{"name": "ws"}],
        "sources": [{"name": "src", "type": "airbyte", **source}],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "warehouse.duckdb"}],
        "connections": [
            {"name": "c1", "source": "src", "destination": "wh", "prefix": "f_", "streams": streams}
        ],
        "applications": [{"name": "app", "client_id": "cid", "client_secret": "csecret"}],
    }


def write_dbt(root: Path, warehouse: Path) -> None:
    models = root / "dbt" / "models"
    models.mkdir(parents=True)
    (root / "dbt" / "dbt_project.yml").write_text(
        'name: faker\nversion: "1.0.0"\nprofile: faker\nmodel-paths: ["models"]\n'
        "models:\n  faker:\n    +materialized: table\n"
    )
    (root / "dbt" / "profiles.yml").write_text(
        "faker:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f'      path: "{warehouse}"\n      threads: 1\n'
    )
    (models / "user_purchases.sql").write_text(MODEL)


def test_a_pipeline_runs_on_faker_data(
    faker_env: ConnectorEnv, tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> None:
    streams = [
        {"name": "users", "sync_mode": "incremental_deduped_history"},
        {"name": "purchases", "sync_mode": "incremental_append"},
    ]
    source = {
        "connector": "source-faker",
        "pip": "airbyte-source-faker==7.2.1",
        "config": dict(FAKER_CONFIG),
    }
    sandbox = airbyte_sandbox_factory(world(source, streams))
    project = Project(tmp_path / "project", sandbox)
    write_dbt(project.root, project.warehouse)
    expect = {
        "prefix": "f_",
        "streams": {
            "users": {
                "sync_mode": "incremental_deduped_history",
                "cursor": ["updated_at"],
                "primary_key": [["id"]],
            },
            "purchases": {
                "sync_mode": "incremental_append",
                "cursor": ["updated_at"],
                "primary_key": [["id"]],
            },
        },
    }
    in_users = "(select count(*) from f_purchases where user_id in (select id from f_users))"
    project.write(
        [
            {
                "sync": "faker",
                "connection": "c1",
                "expect": expect,
                "counts": {"warehouse": "main"},
            },
            {
                "check": "users_loaded",
                "after": ["faker"],
                "sql": {"warehouse": "main", "query": "select count(*) = 30 from f_users"},
            },
            {
                "dbt": {"project_dir": "dbt", "profiles_dir": "dbt"},
                "name": "models",
                "after": ["users_loaded"],
            },
            {
                "check": "model_rows",
                "after": ["models"],
                "sql": {
                    "warehouse": "main",
                    "query": f"select count(*) = 30 and sum(purchases) = {in_users} "
                    "from user_purchases",
                },
            },
        ]
    )

    result = project.run("--json", timeout=300)

    assert result.returncode == 0, result
    steps = result.steps()
    assert {s["status"] for s in steps.values()} == {"succeeded"}, steps
    assert {"faker:drift", "faker:counts", "models", "model_rows"} <= set(steps)
    # the drift check asked the connector: discover_schema ran `discover` for real
    assert sandbox.requests("discover_schema")
    per_stream = {s["stream"]: s["records_committed"] for s in steps["faker"]["streams"]}
    landed = sandbox.engine.destination_counts(sandbox.engine.list_connections()[0]["connectionId"])
    assert {k: v for k, v in landed.items()} == per_stream
    assert per_stream["users"] == 30 and per_stream["purchases"] > 0


def test_a_config_that_changes_the_catalog_is_caught_by_the_drift_check(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> None:
    streams = [
        {
            "name": "items",
            "sync_mode": "incremental_append",
            "cursor_field": ["updated_at"],
            "primary_key": [["id"]],
        }
    ]
    expect = {
        "streams": {
            "items": {
                "sync_mode": "incremental_append",
                "cursor": ["updated_at"],
                "primary_key": [["id"]],
            }
        }
    }
    steps = [{"sync": "items", "connection": "c1", "expect": expect}]
    config: dict[str, Any] = {"api_key": "k", "rows": 4}

    before = airbyte_sandbox_factory(
        world({"connector": "source-tiny", "command": TINY, "config": config}, streams)
    )
    project = Project(tmp_path / "before", before)
    project.write(steps)
    first = project.run("--json")
    assert first.returncode == 0, first
    assert first.steps()["items:drift"]["status"] == "succeeded"

    # the same connector, configured so that its catalog has no updated_at any more
    changed = {**config, "drop_columns": ["updated_at"]}
    after = airbyte_sandbox_factory(
        world({"connector": "source-tiny", "command": TINY, "config": changed}, streams)
    )
    project = Project(tmp_path / "after", after)
    project.write(steps)
    second = project.run("--json")
    assert second.returncode != 0, second
    drift = second.steps()["items:drift"]
    assert drift["status"] == "failed", drift
    assert "updated_at" in str(drift), drift
    # a drifted connection loads nothing
    assert not after.engine.list_jobs(
        connection_id=after.engine.list_connections()[0]["connectionId"]
    )
