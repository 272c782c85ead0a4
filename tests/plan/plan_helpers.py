"""Helpers for the plan / apply / preflight tests: a sandbox Airbyte and a pipeline file whose
``expect:`` blocks describe the demo world's connections exactly as the world declares them.

Commands run in-process through ``click.testing.CliRunner``; every test gets its own
sandbox on loopback and its own working directory.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from luigi_airbyte.cli.app import cli
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.world import demo_world_data

CRM = "Postgres CRM → Warehouse"
EVENTS = "Events API → Warehouse"
SECRET_VAR = "PLAN_TEST_AIRBYTE_SECRET"


def intended_expects() -> dict[str, dict[str, Any]]:
    """What the file intends: the demo world's connections as they start."""
    return {
        CRM: {
            "status": "active",
            "schedule": {"type": "manual"},
            "prefix": "crm_",
            "schema_changes": "ignore",
            "streams": {
                "users": {
                    "sync_mode": "incremental_deduped_history",
                    "cursor": ["updated_at"],
                    "primary_key": [["id"]],
                },
                "orders": {"selected": True, "sync_mode": "incremental_append"},
            },
        },
        EVENTS: {
            "schedule": {"type": "cron", "cron": "0 0 * * * ?"},
            "prefix": "events_",
            "streams": {"events": {"sync_mode": "full_refresh_append"}},
        },
    }


def world_data(faults: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(demo_world_data())
    data["settings"] = {**data["settings"], "job_duration_seconds": 0.2}
    if faults:
        data["faults"] = faults
    return data


@dataclass
class Project:
    root: Path
    sandbox: Sandbox
    path: Path
    runner: CliRunner

    def write(
        self,
        expects: dict[str, dict[str, Any]] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        url: str | None = None,
        client_secret: str = f"env:{SECRET_VAR}",
    ) -> Path:
        expects = intended_expects() if expects is None else expects
        names = {CRM: "crm", EVENTS: "events"}
        steps = [
            {"sync": names.get(conn, f"sync{i}"), "connection": conn, "expect": expect}
            for i, (conn, expect) in enumerate(expects.items())
        ]
        doc: dict[str, Any] = {
            "version": 1,
            "airbyte": {
                "url": url or self.sandbox.url,
                "auth": {
                    "type": "client_credentials",
                    "client_id": self.sandbox.client_id,
                    "client_secret": client_secret,
                },
            },
            "state_dir": "state",
            "pipelines": {"nightly": {"owner": "data-platform", "steps": steps}},
            "owners": {"data-platform": {"alerts": [f"jsonl:{self.root / 'alerts.jsonl'}"]}},
        }
        for key, value in (extra or {}).items():
            if key == "airbyte":
                doc["airbyte"].update(value)
            else:
                doc[key] = value
        self.path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        return self.path

    def cli(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            cli, list(args), input=input, catch_exceptions=False, prog_name="luigi-airbyte"
        )

    def plan(self, *args: str) -> Result:
        return self.cli("plan", str(self.path), *args)

    def plan_json(self, *args: str) -> dict[str, Any]:
        result = self.plan("--json", *args)
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    def apply(self, *args: str, input: str | None = None) -> Result:
        return self.cli("apply", str(self.path), *args, input=input)

    def connection_id(self, name: str) -> str:
        return next(c["connectionId"] for c in self.engine.list_connections() if c["name"] == name)

    def connection(self, name: str) -> dict[str, Any]:
        return self.engine.get_connection(self.connection_id(name))

    def patch(self, name: str, body: dict[str, Any]) -> None:
        self.engine.patch_connection(self.connection_id(name), body)

    @property
    def engine(self) -> Any:
        return self.sandbox.engine
