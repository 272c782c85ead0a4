"""``sandbox serve`` (a local Airbyte-compatible server) and ``sandbox world-example``."""

from __future__ import annotations

from pathlib import Path

import click

from luigi_airbyte.cli.app import CONTEXT_SETTINGS, cli, fail
from luigi_airbyte.errors import AirbyteError, ConfigError, Problem


@cli.group("sandbox", context_settings=CONTEXT_SETTINGS)
def sandbox_group() -> None:
    """Run a local Airbyte-compatible server for trying pipelines and for tests."""


@sandbox_group.command("serve")
@click.option(
    "--world",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="World file: workspaces, sources, connections, faults (default: the demo world).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port; 0 picks a free one.",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File that keeps jobs and applications across restarts.",
)
def serve_command(world: Path | None, host: str, port: int, state: Path | None) -> None:
    """Serve an Airbyte-compatible API (public and config API) until Ctrl-C or SIGTERM.

    The first line on stdout is one JSON object with url, config_api_url (the
    …/api/v1 form), config_api_root (…/api), client_id, client_secret and
    workspace_id; logs go to stderr. Syncs move real rows into the world's
    destinations (DuckDB by default), and faults can be injected from the world
    file. The demo world has the connections "Postgres CRM → Warehouse" and
    "Events API → Warehouse".

    \b
    Example:
      luigi-airbyte sandbox serve --port 8000
      luigi-airbyte sandbox world-example > world.yaml
      luigi-airbyte sandbox serve --world world.yaml --port 0 --state sandbox-state.json
    """
    from luigi_airbyte.sandbox import serve
    from luigi_airbyte.sandbox.errors import WorldError

    try:
        serve(world, host, port, state)
    except WorldError as exc:
        problems = []
        for text in exc.problems:
            field, sep, message = text.partition(": ")
            problems.append(Problem(exc.source, field if sep else "-", message if sep else text))
        fail(ConfigError(problems), as_json=False)
    except OSError as exc:
        fail(AirbyteError(f"sandbox: cannot serve on {host}:{port}: {exc}"), as_json=False)


@sandbox_group.command("world-example")
def world_example_command() -> None:
    """Print an annotated example world file to start your own from.

    \b
    Example:
      luigi-airbyte sandbox world-example > world.yaml
      luigi-airbyte sandbox serve --world world.yaml
    """
    from luigi_airbyte.sandbox.example import EXAMPLE_WORLD_YAML

    click.echo(EXAMPLE_WORLD_YAML, nl=False)
