"""``sandbox serve`` (a local Airbyte-compatible server) and ``sandbox world-example``."""

from __future__ import annotations

from pathlib import Path

import click

from luigi_airbyte.cli.common import CONTEXT_SETTINGS, fail
from luigi_airbyte.errors import AirbyteError, ConfigError, Problem


@click.group("sandbox", context_settings=CONTEXT_SETTINGS)
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


@sandbox_group.group("connectors", context_settings=CONTEXT_SETTINGS)
def connectors_group() -> None:
    """Manage the virtualenvs of real Airbyte connectors (`type: airbyte` sources).

    Each connector requirement gets its own virtualenv under the cache folder
    ($LUIGI_AIRBYTE_CONNECTORS_DIR, else $XDG_CACHE_HOME/luigi-airbyte/connectors, else
    ~/.cache/luigi-airbyte/connectors), built once and shared by every run and process.
    """


@connectors_group.command("install")
@click.argument("requirements", nargs=-1)
@click.option(
    "--world",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also install every `pip:` connector of this world file.",
)
def connectors_install_command(requirements: tuple[str, ...], world: Path | None) -> None:
    """Build (or reuse) the environment of each REQUIREMENT, e.g. airbyte-source-faker==7.2.1.

    \b
    Example:
      luigi-airbyte sandbox connectors install airbyte-source-faker==7.2.1
      luigi-airbyte sandbox connectors install --world world.yaml
    """
    from luigi_airbyte.sandbox.connectors.envs import ConnectorEnvError, ensure_env
    from luigi_airbyte.sandbox.errors import WorldError
    from luigi_airbyte.sandbox.world import load_world

    wanted: list[tuple[str | list[str], list[str]]] = [(r, []) for r in requirements]
    if world is not None:
        try:
            loaded = load_world(world)
        except WorldError as exc:
            fail(ConfigError([Problem(exc.source, "-", p) for p in exc.problems]), as_json=False)
        wanted += [
            (s.pip, list(s.pip_overrides)) for s in loaded.sources if s.type == "airbyte" and s.pip
        ]
    if not wanted:
        raise click.UsageError("give a REQUIREMENT or --world with `pip:` connectors")
    for req, overrides in wanted:
        try:
            env = ensure_env(req, overrides, log=lambda text: click.echo(text, err=True))
        except ConnectorEnvError as exc:
            fail(AirbyteError(f"sandbox connectors: {exc}"), as_json=False)
        click.echo(f"{env.requirement}: ready in {env.path}")


@connectors_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def connectors_list_command(as_json: bool) -> None:
    """List the connector environments in the cache folder.

    \b
    Example:
      luigi-airbyte sandbox connectors list
    """
    import json

    from luigi_airbyte.sandbox.connectors.envs import cache_root, list_envs

    envs = list_envs()
    if as_json:
        for env in envs:
            click.echo(json.dumps(env.info(), sort_keys=True))
        return
    click.echo(f"cache: {cache_root()}")
    if not envs:
        click.echo("no connector environments yet (luigi-airbyte sandbox connectors install REQ)")
    for env in envs:
        info = env.info()
        state = f"ready ({info.get('tool', '?')}, built in {info.get('build_seconds', '?')} s)"
        click.echo(f"  {info['requirement']}: {state if env.ready else 'incomplete'}  {env.path}")
