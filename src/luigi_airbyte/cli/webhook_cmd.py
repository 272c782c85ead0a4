"""``webhook configure`` and ``webhook serve``: let Airbyte push sync completion."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import CONTEXT_SETTINGS, emit_json, fail, json_option
from luigi_airbyte.errors import ConfigError, LuigiAirbyteError, Problem

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

_PIPELINE_FILE = click.argument(
    "pipeline_file", type=click.Path(dir_okay=False, path_type=Path), metavar="PIPELINE"
)
_PIPELINE_NAME = click.option(
    "-p", "--pipeline", "pipeline_name", help="Only this pipeline of the file (default: all)."
)


@click.group("webhook", context_settings=CONTEXT_SETTINGS)
def webhook_group() -> None:
    """Let Airbyte push sync completion to a receiver (workspace webhooks).

    A webhook is a hint, confirmed with one request to Airbyte; polling stays as the slow
    fallback. See docs/webhooks.md.
    """


def _runtime(pipeline_file: Path, cli: dict[str, Any]) -> Runtime:
    from luigi_airbyte.app.runtime import Runtime

    if not pipeline_file.exists():
        raise ConfigError([Problem(str(pipeline_file), "-", "file not found", "check the path")])
    return Runtime.load(pipeline_file.resolve(), cli=cli)


def _pipelines(rt: Runtime, name: str | None) -> list[str]:
    pf = rt.pipeline_file
    assert pf is not None
    return [pf.pipeline(name).name] if name else list(pf.pipelines)


@webhook_group.command("configure")
@_PIPELINE_FILE
@_PIPELINE_NAME
@click.option(
    "--url",
    help="The receiver's URL as Airbyte reaches it (default: webhook.public_url, else "
    "http://<webhook.listen>); /<token> is appended to its path when webhook.token is set. "
    "A URL with user:password@ is refused.",
)
@click.option("--off", is_flag=True, help="Switch the workspaces' sync webhooks off instead.")
@json_option
def configure_command(
    pipeline_file: Path, pipeline_name: str | None, url: str | None, off: bool, as_json: bool
) -> None:
    """Point the sync success and failure webhooks of every workspace PIPELINE syncs in
    at the receiver (PATCH /workspaces/{id}); other notifications are kept.

    \b
    Example:
      luigi-airbyte webhook configure pipeline.yaml --url https://hooks.example.com/airbyte
    """
    from luigi_airbyte.app.webhooks import configure_webhooks, webhook_target

    try:
        rt = _runtime(pipeline_file, {})
        try:
            target = None if off else webhook_target(rt, url)
            done = configure_webhooks(rt, _pipelines(rt, pipeline_name), target)
        finally:
            rt.close()
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    shown = target.shown if target else None
    if as_json:
        emit_json({"url": shown, "workspaces": [n.workspace_id for n in done]})
        return
    if not done:
        click.echo("no workspace to configure: the pipeline syncs no connection")
        return
    for n in done:
        click.echo(
            f"workspace {n.workspace_id}: sync success and failure webhooks -> {shown or 'off'}"
        )


@webhook_group.command("serve")
@_PIPELINE_FILE
@_PIPELINE_NAME
@click.option("--listen", help="HOST:PORT to listen on (default: webhook.listen, 127.0.0.1:8711).")
@click.option(
    "--token-ref",
    help="The shared path token as a reference, e.g. env:WEBHOOK_TOKEN (default: webhook.token).",
)
def serve_command(
    pipeline_file: Path, pipeline_name: str | None, listen: str | None, token_ref: str | None
) -> None:
    """Receive Airbyte's sync webhooks for PIPELINE's connections on a shared host and
    record each hint once in the metadata store (webhook_hints). Ctrl-C stops it (exit 0).

    Payloads that are malformed, for another connection, or a replay are logged and
    ignored; a wrong token path is a 404.

    \b
    Example:
      luigi-airbyte webhook serve pipeline.yaml --listen 127.0.0.1:8711 --token-ref env:HOOK_TOKEN
    """
    from luigi_airbyte.app.webhooks import MASK, serve_receiver

    cli = {"webhook.listen": listen, "webhook.token": token_ref}
    try:
        rt = _runtime(pipeline_file, {k: v for k, v in cli.items() if v is not None})
        try:  # binds --listen before Airbyte is asked or the store opened
            receiver = serve_receiver(rt, _pipelines(rt, pipeline_name))
        except BaseException:
            rt.close()  # the store and client, if opened: no SQLite -wal/-shm left open
            raise
    except LuigiAirbyteError as exc:
        fail(exc, as_json=False)
    host, port = receiver.address
    path = f"/{MASK}" if rt.settings.get("webhook.token") is not None else "/"
    click.echo(f"listening on http://{host}:{port}{path}; Ctrl-C to stop", err=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.close()
        rt.close()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(receiver.stats.counts.items()))
    click.echo(f"stopped ({counts or 'nothing received'})", err=True)
    sys.exit(0)
