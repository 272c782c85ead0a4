"""``luigi-airbyte quickstart``: the whole product in one command, no Airbyte needed.

It starts the sandbox (an Airbyte-compatible server) in-process with a demo world,
writes a demo project (pipeline file, dbt project, report script) into DIR, runs the
pipeline, then runs it again to show that nothing is synced or computed twice.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import fail
from luigi_airbyte.errors import ConfigError, LuigiAirbyteError, Problem

if TYPE_CHECKING:
    from rich.console import Console

    from luigi_airbyte.sandbox import Sandbox

PIPELINE_TEMPLATE = """\
# A luigi-airbyte pipeline file, written by `luigi-airbyte quickstart`.
# Reference: docs/pipeline-file.md. Validate with: luigi-airbyte validate {pipeline}
version: 1
airbyte:
  url: {url}
  auth:
    type: client_credentials
    client_id: {client_id}
    client_secret: file:{secret_file}      # a reference; never the secret itself
state_dir: state                           # metadata store, events, artefacts
reports: {{html: true}}                      # state/reports/<run id>.html after every run
warehouses:
  warehouse: {{url: "duckdb:///warehouse.duckdb"}}
owners:
  data-platform:                           # a role, not a person
    alerts: ["jsonl:{alerts}"]
pipelines:
  demo:
    owner: data-platform
    schedule: "0 2 * * *"
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
        freshness: 6h                      # skip when Airbyte synced it within 6 hours
        expect:                            # drift check, runs before the sync
          streams:
            users:
              sync_mode: incremental_deduped_history
              cursor: [updated_at]
              primary_key: [[id]]
        counts: {{warehouse: warehouse}}     # reconcile rows with Airbyte's counts after it
      - sync: events
        connection: "Events API → Warehouse"
        freshness: 6h
        counts: {{warehouse: warehouse}}
      - check: users_loaded
        after: [crm]
        sql: {{warehouse: warehouse, query: "select count(*) > 0 from crm_users"}}
{transform}
      - command: {{argv: [{python}, report.py]}}
        name: report
        after: [models]
"""

DBT_STEP = """\
      - dbt: {project_dir: dbt, profiles_dir: dbt}
        name: models
        after: [users_loaded, events]"""

SQL_STEP = """\
      - command: {{argv: [{python}, transform.py]}}
        name: models
        after: [users_loaded, events]"""

MODEL_SQL = """\
select u.id as user_id, u.name, count(o.id) as orders, coalesce(sum(o.amount), 0) as revenue
from crm_users u left join crm_orders o on o.user_id = u.id
group by u.id, u.name
"""

DBT_PROJECT = """\
name: quickstart
version: "1.0.0"
profile: quickstart
model-paths: ["models"]
models:
  quickstart:
    +materialized: table
"""

DBT_PROFILES = """\
quickstart:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{warehouse}"
      threads: 1
"""

TRANSFORM_PY = '''\
"""The demo transform without dbt: build user_revenue in the warehouse."""
import duckdb

con = duckdb.connect("warehouse.duckdb")
con.execute("create or replace table user_revenue as " + """{sql}""")
print("user_revenue:", con.execute("select count(*) from user_revenue").fetchone()[0], "rows")
'''

REPORT_PY = '''\
"""The demo report: top customers by revenue, written to report.md."""
import duckdb

con = duckdb.connect("warehouse.duckdb", read_only=True)
rows = con.execute(
    "select name, orders, round(revenue, 2) from user_revenue order by revenue desc limit 5"
).fetchall()
events = con.execute("select count(*) from events_events").fetchone()[0]
header = ["# Quickstart report", "", f"events loaded: {events}", ""]
table = ["| customer | orders | revenue |", "|---|---|---|"]
lines = header + table + [f"| {n} | {o} | {r} |" for n, o, r in rows]
open("report.md", "w").write("\\n".join(lines) + "\\n")
print("\\n".join(lines))
print(f"wrote report.md: top {len(rows)} customers, {events} events loaded")
'''


def write_world(directory: Path, connector: str | None = None) -> Path:
    """Write the demo's sandbox world into ``directory``; returns the world file's path.

    With ``connector`` (e.g. source-faker) the CRM source is that real Airbyte connector.
    """
    from ruamel.yaml import YAML

    from luigi_airbyte.sandbox.world import demo_world_data

    world_data = demo_world_data()
    if connector is not None:
        from luigi_airbyte.sandbox.connectors.demo import connector_demo_world_data

        world_data = connector_demo_world_data(connector)
    directory.mkdir(parents=True, exist_ok=True)
    world = directory / "world.yaml"
    yaml = YAML()
    yaml.default_flow_style = False
    with world.open("w", encoding="utf-8") as fh:
        fh.write("# The sandbox world: luigi-airbyte sandbox serve --world world.yaml\n")
        yaml.dump(world_data, fh)
    return world


def write_project(directory: Path, sandbox: Sandbox, *, connector: str | None = None) -> Path:
    """Write the demo project that runs against ``sandbox`` (its URL and first application's
    credentials) into ``directory``; returns the pipeline file path. ``connector`` as for
    `write_world`: the dbt model then reads that connector's streams."""
    model_sql = MODEL_SQL
    if connector is not None:
        from luigi_airbyte.sandbox.connectors.demo import FAKER_MODEL_SQL

        model_sql = FAKER_MODEL_SQL
    directory.mkdir(parents=True, exist_ok=True)
    secret_file = _write_secret(directory, sandbox.client_secret)
    python = sys.executable
    transform = _write_transform(directory, model_sql, python)
    (directory / "report.py").write_text(REPORT_PY, encoding="utf-8")
    pipeline = directory / "pipeline.yaml"
    pipeline.write_text(
        PIPELINE_TEMPLATE.format(
            pipeline=pipeline.name,
            url=sandbox.url,
            client_id=sandbox.client_id,
            secret_file=secret_file.resolve(),
            alerts=(directory / "alerts.jsonl").resolve(),
            python=python,
            transform=transform,
        ),
        encoding="utf-8",
    )
    return pipeline


def _write_secret(directory: Path, client_secret: str) -> Path:
    """The client secret in ``.secrets/`` (0700), in a file only its owner reads (0600)."""
    secrets = directory / ".secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    secret_file = secrets / "airbyte_client_secret"
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(client_secret)
    os.chmod(secret_file, 0o600)
    return secret_file


def _write_transform(directory: Path, model_sql: str, python: str) -> str:
    """The transform: a dbt project when dbt is installed, else a script; returns its step."""
    if importlib.util.find_spec("dbt") is None:
        (directory / "transform.py").write_text(TRANSFORM_PY.format(sql=model_sql), "utf-8")
        return SQL_STEP.format(python=python)
    models = directory / "dbt" / "models"
    models.mkdir(parents=True, exist_ok=True)
    (directory / "dbt" / "dbt_project.yml").write_text(DBT_PROJECT, encoding="utf-8")
    (directory / "dbt" / "profiles.yml").write_text(
        DBT_PROFILES.format(warehouse=directory.resolve() / "warehouse.duckdb"),
        encoding="utf-8",
    )
    (models / "user_revenue.sql").write_text(model_sql, encoding="utf-8")
    return DBT_STEP


@click.command("quickstart")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default="quickstart")
@click.option("--keep-serving", is_flag=True, help="Keep the sandbox running afterwards.")
@click.option(
    "--connector",
    type=click.Choice(["source-faker"]),
    help="Run the CRM sync with this real Airbyte connector (its virtualenv is built on "
    "first use, about 2-4 minutes, then cached); default: the built-in generator.",
)
def quickstart_command(directory: Path, keep_serving: bool, connector: str | None) -> None:
    """Run the demo: sandbox Airbyte, two syncs, checks, a transform, a report; then again.

    Nothing needs to be configured: the sandbox stands in for Airbyte and moves real
    rows into DIR/warehouse.duckdb. The second run shows every step skipped: the data is
    fresh and each step already succeeded for today.

    \b
    Example:
      luigi-airbyte quickstart demo
      cat demo/pipeline.yaml demo/report.md
      luigi-airbyte quickstart --connector source-faker faker-demo
    """
    from rich.console import Console

    from luigi_airbyte.sandbox.errors import WorldError

    out = Console(width=None if sys.stdout.isatty() else 140)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "warehouse.duckdb").unlink(missing_ok=True)
    try:
        code = _demo(directory, connector, out, keep_serving=keep_serving)
    except LuigiAirbyteError as exc:
        fail(exc, as_json=False)
    except WorldError as exc:  # e.g. a connector's environment could not be built
        problems = [Problem(exc.source, "-", text) for text in exc.problems]
        fail(ConfigError(problems), as_json=False)
    sys.exit(code)


def _demo(directory: Path, connector: str | None, out: Console, *, keep_serving: bool) -> int:
    """Start the sandbox, run the pipeline twice, say what to try next; the first
    failing run's exit code, else 0."""
    from luigi_airbyte.sandbox import Sandbox, load_world

    # The world first, since the sandbox starts from it; then the project that points at it.
    world = load_world(write_world(directory, connector))
    with Sandbox(world, state_path=directory / "sandbox-state.json") as sandbox:
        pipeline = write_project(directory, sandbox, connector=connector)
        out.rule(f"[bold]luigi-airbyte quickstart[/bold] in {directory}")
        out.print(f"sandbox Airbyte at {sandbox.url}; pipeline file {pipeline}")
        first, second, first_doc = _run_twice(directory, pipeline, out)
        jobs = sandbox.requests("/jobs", method="POST")
        out.print(
            f"Airbyte jobs created across both runs: {len(jobs)} "
            "(one per connection; the second run created none)"
        )
        out.print(textwrap.dedent(_NEXT.format(directory=directory, pipeline=pipeline)))
        if keep_serving:
            _serve_until_interrupted(sandbox.url, out)
        out.print(f"Run report: {first_doc.get('html_report')}", soft_wrap=True, markup=False)
    return first or second


def _run_twice(directory: Path, pipeline: Path, out: Console) -> tuple[int, int, dict[str, Any]]:
    from luigi_airbyte.cli.run_cmd import execute_run

    today = dt.datetime.now(dt.timezone.utc).date()
    cwd = os.getcwd()
    os.chdir(directory)  # the demo's command steps read warehouse.duckdb from here
    try:
        out.rule("first run: sync, check, transform, report")
        first, first_doc = execute_run(pipeline, run_date=today, console=out)
        out.rule("second run: same date, nothing to do")
        second, _ = execute_run(pipeline, run_date=today, console=out)
    finally:
        os.chdir(cwd)
    return first, second, first_doc


_NEXT = """
    Next:
      cat {directory}/report.md
      luigi-airbyte history -f {pipeline}
      luigi-airbyte sandbox serve --world {directory}/world.yaml --port 8000 &
      luigi-airbyte run {pipeline} --url http://127.0.0.1:8000/api/public/v1
    """


def _serve_until_interrupted(url: str, out: Console) -> None:
    import time

    out.print(f"sandbox still serving at {url}; Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
