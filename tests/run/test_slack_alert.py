"""A failed step alerts its owner role's Slack route, given as a reference."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

import pytest
from rich.console import Console
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.sandbox import Sandbox, demo_world

PIPELINE = """\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: {cid}, client_secret: "file:{secret}"}}
state_dir: state
warehouses: {{main: {{url: "duckdb:///{wh}"}}}}
owners:
  data-platform: {{alerts: ["slack:env:TEST_SLACK_HOOK"]}}
pipelines:
  p:
    owner: data-platform
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
      - check: never
        after: [crm]
        sql: {{warehouse: main, query: "select 1 = 0"}}
"""


def test_failed_check_posts_one_slack_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, object]] = []

    @Request.application  # type: ignore[misc]
    def hook(request: Request) -> Response:
        received.append(json.loads(request.get_data()))
        return Response("ok")

    server = make_server("127.0.0.1", 0, hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TEST_SLACK_HOOK", f"http://127.0.0.1:{server.server_port}/hook")
    try:
        with Sandbox(demo_world(data_dir=tmp_path / "wh")) as sb:
            secret = tmp_path / "secret"
            secret.write_text(sb.client_secret)
            os.chmod(secret, 0o600)
            path = tmp_path / "pipeline.yaml"
            path.write_text(
                PIPELINE.format(
                    url=sb.url,
                    cid=sb.client_id,
                    secret=secret,
                    wh=tmp_path / "wh" / "warehouse.duckdb",
                )
            )
            code, _ = execute_run(
                path,
                run_date=dt.date(2026, 4, 1),
                console=Console(file=open(os.devnull, "w")),  # noqa: SIM115
            )
    finally:
        server.shutdown()
    assert code == 6
    assert len(received) == 1
    text = json.dumps(received[0])
    assert "p/never failed" in text  # the pipeline/step that failed
    assert "text" in received[0] and "blocks" in received[0]  # Slack's message shape
