"""Rotate the Airbyte application credential a pipeline uses, without a moment of breakage.

The credential (client id + secret) must live as two keys of *one* writable secret, a
``file:`` JSON file or an ``aws-sm:`` secret, so both change in one atomic write (see
``luigi_airbyte.secrets._rotation`` for the store side). The order of operations:

0. Resume: read the stored pair and list the user's applications with it (this proves
   the stored credential works). An application named ``<prefix>-...`` that is not the
   stored one is left over from an interrupted rotation: delete it.
1. Create a new application ``<prefix>-<UTC timestamp>``.
2. Verify it: mint a token with the new pair and list workspaces. On failure delete the
   new application; the store was not touched, so nothing broke.
3. Write the new pair to the store, read it back and compare.
4. Delete the old application (found by its client id), authenticated with the new pair.
   Tokens already minted with the old secret stay valid until they expire.

A crash after 1 or after 3 leaves one extra application that step 0 of the next
rotation deletes (after 3 only if the old application carries the prefix, i.e. from the
second rotation on). At no point does the store hold a credential that does not work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, Application
from luigi_airbyte.errors import (
    AirbyteError,
    AuthenticationError,
    ConfigError,
    Problem,
    SecretError,
)
from luigi_airbyte.pipeline._models import ClientCredentialsAuth
from luigi_airbyte.secrets import CredentialStore, SecretRef, SecretValue, credential_store_for

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

DEFAULT_NAME_PREFIX = "luigi-airbyte"
WRITABLE_SCHEMES = ("file", "aws-sm")
_EXAMPLE = (
    "client_id: file:/etc/luigi-airbyte/airbyte.json#client_id and "
    "client_secret: file:/etc/luigi-airbyte/airbyte.json#client_secret (a 0600 JSON file), "
    "or the same with aws-sm:ARN#client_id / aws-sm:ARN#client_secret"
)


@dataclass(frozen=True)
class DeletedApplication:
    """An application the rotation deleted, and why."""

    application_id: str
    name: str
    client_id: str
    reason: Literal["replaced", "leftover"]


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did. Holds client ids and application ids, never a secret."""

    location: str
    new_client_id: str
    new_application_id: str
    new_application_name: str
    old_client_id: str
    old_application_id: str | None
    deleted: tuple[DeletedApplication, ...]


def credential_store(rt: Runtime) -> CredentialStore:
    """The writable store behind the configured client-credentials auth, or `ConfigError`."""
    auth = rt.settings.auth
    secret_source = rt.settings.source("airbyte.auth.type")
    if not isinstance(auth, ClientCredentialsAuth):
        raise ConfigError(
            [
                Problem(
                    secret_source,
                    "airbyte.auth.type",
                    f"credential rotation needs auth type client_credentials, not {auth.type}",
                    "configure Airbyte application credentials (client_id and client_secret)",
                )
            ]
        )
    secret_ref = auth.client_secret
    where = rt.settings.source("airbyte.auth.client_secret")
    if secret_ref.scheme not in WRITABLE_SCHEMES:
        why = (
            "an environment variable belongs to whoever started the process and cannot be "
            "changed from here"
            if secret_ref.scheme == "env"
            else f"luigi-airbyte cannot write {secret_ref.scheme}: secrets yet"
        )
        raise ConfigError(
            [
                Problem(
                    where,
                    "airbyte.auth.client_secret",
                    f"{secret_ref} cannot be rotated: {why}",
                    f"keep the pair in one writable secret, e.g. {_EXAMPLE}",
                )
            ]
        )
    id_ref = auth.client_id
    if not isinstance(id_ref, SecretRef):
        raise ConfigError(
            [
                Problem(
                    rt.settings.source("airbyte.auth.client_id"),
                    "airbyte.auth.client_id",
                    "the client id is written in plain text, but a rotation changes it",
                    f"make it a key of the same secret as the client secret, e.g. {_EXAMPLE}",
                )
            ]
        )
    try:
        return credential_store_for(id_ref, secret_ref)
    except ValueError as exc:
        raise ConfigError(
            [Problem(where, "airbyte.auth", str(exc), f"for example {_EXAMPLE}")]
        ) from None


def _client(rt: Runtime, client_id: str, secret: str) -> AirbyteClient:
    auth = rt.settings.auth
    token_url = auth.token_url if isinstance(auth, ClientCredentialsAuth) else None
    credentials = AirbyteClientCredentials(
        client_id, lambda: secret, str(token_url) if token_url else None, source="rotation"
    )
    return AirbyteClient(url=rt.settings.airbyte_url, auth=credentials, transport=rt.transport)


def _verify(
    client: AirbyteClient, attempts: int = 3, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Mint a token and make one read call; a brand-new credential may need a moment."""
    for attempt in range(1, attempts + 1):
        try:
            client.list_workspaces()
            return
        except AuthenticationError:
            if attempt == attempts:
                raise
            sleep(1.0 * attempt)


def rotate_credentials(
    rt: Runtime,
    *,
    name_prefix: str = DEFAULT_NAME_PREFIX,
    sleep: Callable[[float], None] = time.sleep,
) -> RotationResult:
    """Replace the stored Airbyte application credential with a new one; see the module doc.

    Raises:
        ConfigError: auth is not client_credentials, or its secret cannot be written.
        SecretError: the credential store cannot be read or written.
        AirbyteError: Airbyte refused a step; the message says what state things are in.
    """
    prefix = name_prefix.strip().rstrip("-")
    if not prefix:
        raise ConfigError(
            [Problem("cli", "--name-prefix", "must not be empty", "e.g. luigi-airbyte")]
        )
    store = credential_store(rt)
    current_id, current_secret = store.read()
    rt.redactor.register(current_secret.reveal())
    with _client(rt, current_id, current_secret.reveal()) as client:
        apps = client.list_applications()  # also proves the stored credential works
        deleted = _delete_leftovers(client, apps, prefix, current_id)
        old = next((a for a in apps if a.client_id == current_id), None)
        new, new_client = _create_verified(rt, client, prefix, store, sleep)
    with new_client:
        _write(store, new)
        rt.resolver.invalidate()
        logger.info("stored the new credential in %s", store.location)
        deleted += _retire(new_client, old, store, current_id)
    return RotationResult(
        location=store.location,
        new_client_id=new.client_id,
        new_application_id=new.application_id,
        new_application_name=new.name,
        old_client_id=current_id,
        old_application_id=old.application_id if old is not None else None,
        deleted=tuple(deleted),
    )


def _delete_leftovers(
    client: AirbyteClient, apps: list[Application], prefix: str, current_id: str
) -> list[DeletedApplication]:
    """Delete the applications an interrupted rotation left behind (ours by name, not the
    stored one)."""
    deleted = []
    for app in apps:
        if app.name.startswith(prefix + "-") and app.client_id != current_id:
            logger.warning(
                "deleting application %s (%s) left over from an interrupted rotation",
                app.name,
                app.application_id,
            )
            client.delete_application(app.application_id)
            deleted.append(_deleted(app, "leftover"))
    return deleted


def _create_verified(
    rt: Runtime,
    client: AirbyteClient,
    prefix: str,
    store: CredentialStore,
    sleep: Callable[[float], None],
) -> tuple[Application, AirbyteClient]:
    """A new application and a client that has proved its credential works; an unusable
    one is deleted again and nothing is stored."""
    name = f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    new = client.create_application(name)
    rt.redactor.register(new.client_secret)
    logger.info("created application %s (%s)", new.name, new.application_id)
    new_client = _client(rt, new.client_id, new.client_secret)
    try:
        _verify(new_client, sleep=sleep)
    except AirbyteError as exc:
        new_client.close()
        _discard(client, new)
        raise AirbyteError(
            f"the new application {new.name} ({new.application_id}) did not work: {exc}. "
            f"It was deleted; the stored credential in {store.location} is unchanged"
        ) from exc
    return new, new_client


def _retire(
    new_client: AirbyteClient, old: Application | None, store: CredentialStore, current_id: str
) -> list[DeletedApplication]:
    """Delete the old application, once the new credential is stored."""
    if old is None:
        logger.warning(
            "the old client id %s is not among this user's applications; "
            "if it still exists, delete it in Airbyte",
            current_id,
        )
        return []
    try:
        new_client.delete_application(old.application_id)
    except AirbyteError as exc:
        raise AirbyteError(
            f"the new credential is stored in {store.location} and works, but deleting "
            f"the old application {old.name} ({old.application_id}) failed: {exc}. "
            "Delete it in Airbyte (Settings → Applications)"
        ) from exc
    return [_deleted(old, "replaced")]


def _deleted(app: Application, reason: Literal["replaced", "leftover"]) -> DeletedApplication:
    return DeletedApplication(app.application_id, app.name, app.client_id, reason)


def _discard(client: AirbyteClient, app: Application) -> None:
    try:
        client.delete_application(app.application_id)
    except AirbyteError as exc:
        logger.warning(
            "could not delete the unusable application %s (%s): %s; the next rotation will",
            app.name,
            app.application_id,
            exc,
        )


def _write(store: CredentialStore, app: Application) -> None:
    secret = SecretValue(app.client_secret)
    store.write(app.client_id, secret)
    read_id, read_secret = store.read()
    if read_id != app.client_id or read_secret != secret:
        raise SecretError(
            f"{store.location} did not hold the new credential after writing it; the old "
            f"application is kept. Check who else writes {store.location}, then rerun"
        )


__all__ = [
    "DEFAULT_NAME_PREFIX",
    "DeletedApplication",
    "RotationResult",
    "credential_store",
    "rotate_credentials",
]
