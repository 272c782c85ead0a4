"""``credentials rotate``: replace the Airbyte application credential in its secret store."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import CONTEXT_SETTINGS, emit_json, json_option
from luigi_airbyte.cli.options import AirbyteFlags, airbyte_options
from luigi_airbyte.cli.render import fields

if TYPE_CHECKING:
    from luigi_airbyte.app.rotation import RotationResult


@click.group("credentials", context_settings=CONTEXT_SETTINGS)
def credentials_group() -> None:
    """Manage the Airbyte application credential a pipeline uses."""


@credentials_group.command("rotate")
@airbyte_options
@click.option(
    "--name-prefix",
    default="luigi-airbyte",  # app.rotation.DEFAULT_NAME_PREFIX (not imported for --help)
    show_default=True,
    help="Name prefix of the applications this tool creates (and may clean up).",
)
@json_option
def rotate_command(airbyte: AirbyteFlags, name_prefix: str, as_json: bool) -> None:
    """Create a new Airbyte application, store its credential, delete the old one.

    The client id and secret must be two keys of one writable secret, so both
    change in one atomic write: a file: JSON file (kept at mode 0600) or an
    aws-sm: secret. env: references cannot be rotated (exit 3). The new credential
    is verified (a token and one API call) before it is stored; the old application
    is deleted only after. Tokens minted with the old secret stay valid until they
    expire. An interrupted rotation is finished by the next one: applications named
    PREFIX-... other than the stored one are deleted first.

    \b
    Example:
      # pipeline.yaml:
      #   airbyte:
      #     auth:
      #       type: client_credentials
      #       client_id: file:/etc/luigi-airbyte/airbyte.json#client_id
      #       client_secret: file:/etc/luigi-airbyte/airbyte.json#client_secret
      luigi-airbyte credentials rotate -f pipeline.yaml
      luigi-airbyte credentials rotate -f pipeline.yaml --json
    """
    from luigi_airbyte.app.rotation import rotate_credentials

    result = airbyte.call(
        lambda rt: rotate_credentials(rt, name_prefix=name_prefix), as_json=as_json
    )
    if as_json:
        emit_json(rotation_document(result))
    else:
        _print(result)


def rotation_document(result: RotationResult) -> dict[str, Any]:
    """The ``credentials rotate --json`` document."""
    return {
        "location": result.location,
        "new_client_id": result.new_client_id,
        "new_application": {
            "id": result.new_application_id,
            "name": result.new_application_name,
        },
        "old_client_id": result.old_client_id,
        "old_application_id": result.old_application_id,
        "deleted": [asdict(d) for d in result.deleted],
    }


def _print(result: RotationResult) -> None:
    fields(
        [
            ("stored in", result.location),
            ("new client id", result.new_client_id),
            ("new application", f"{result.new_application_name} ({result.new_application_id})"),
            ("old client id", result.old_client_id),
        ]
    )
    for d in result.deleted:
        why = "replaced" if d.reason == "replaced" else "left over from an interrupted rotation"
        click.echo(f"deleted application {d.name} ({d.application_id}): {why}")
    if result.old_application_id is None:
        click.echo(
            f"note: client id {result.old_client_id} was not among this user's applications; "
            "delete it in Airbyte if it still exists"
        )
