"""Credential stores: where an Airbyte client id and secret live, read and swapped together.

Rotation keeps the id and the secret in *one* secret (a JSON object with two keys), so
a single atomic write changes both and no reader can see a new id with an old secret.
The pipeline file then points at the two keys of that one secret::

    auth:
      type: client_credentials
      client_id: aws-sm:arn:aws:secretsmanager:eu-west-1:123456789012:secret:ab#client_id
      client_secret: aws-sm:arn:aws:secretsmanager:eu-west-1:123456789012:secret:ab#client_secret

The rotation itself belongs to a higher layer (it needs the Airbyte client). It goes:

0. **Resume first.** Read ``(current_id, _)`` from the store. List the user's Airbyte
   applications; any application this tool created (name prefix ``luigi-airbyte-``)
   that is not ``current_id`` is left over from an interrupted rotation: delete it.
   If the per-user cap (2 on Keycloak deployments) is still reached by applications
   we did not create, refuse and say which.
1. **Create** a new application; its secret is only shown now, so keep it in memory.
2. **Verify**: mint a token with the new id/secret and make one read call
   (``GET /workspaces``). On failure delete the new application and stop; the store
   is untouched, so nothing broke.
3. **Write** ``(new_id, new_secret)`` with `CredentialStore.write` (atomic), then
   `read()` it back and compare. Call `SecretResolver.invalidate()`.
4. **Delete** the old application, authenticated with the new credential. Tokens minted
   with the old one stay valid until they expire (15 minutes by default).

A crash after 1 leaves an unused application that step 0 deletes next time; a crash
after 3 leaves the old application, which step 0 also deletes. At no point does the
store hold a credential that does not work.
"""

from __future__ import annotations

import json
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets._file import STRICT, FilePolicy, read_secret_file, write_secret_file
from luigi_airbyte.secrets._providers import AwsSecretsManagerProvider, call_aws
from luigi_airbyte.secrets._refs import SecretRef
from luigi_airbyte.secrets._value import SecretValue


class CredentialStore(Protocol):
    """A client id + secret pair that a rotation can read and replace atomically."""

    @property
    def location(self) -> str:
        """Where the pair lives, for messages (never the secret)."""
        ...

    def read(self) -> tuple[str, SecretValue]: ...

    def write(self, client_id: str, secret: SecretValue) -> None: ...


def _pair_from_json(text: str, where: str, id_key: str, secret_key: str) -> tuple[str, SecretValue]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise SecretError(
            f"{where} is not a JSON object with {id_key!r} and {secret_key!r}"
        ) from None
    if not isinstance(doc, dict):
        raise SecretError(f"{where} is not a JSON object with {id_key!r} and {secret_key!r}")
    client_id, secret = doc.get(id_key), doc.get(secret_key)
    if not isinstance(client_id, str) or not client_id:
        raise SecretError(f"{where} has no string {id_key!r}")
    if not isinstance(secret, str) or not secret:
        raise SecretError(f"{where} has no string {secret_key!r}")
    return client_id, SecretValue(secret)


def _merged(
    text: str | None, id_key: str, secret_key: str, client_id: str, secret: SecretValue
) -> str:
    doc: dict[str, Any] = {}
    if text:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            doc = loaded  # keep any other keys stored alongside
    doc[id_key] = client_id
    doc[secret_key] = secret.reveal()
    return json.dumps(doc)


@dataclass(frozen=True)
class FileCredentialStore:
    """A JSON file ``{"client_id": ..., "client_secret": ...}``, mode 0600, replaced atomically."""

    path: str
    _: KW_ONLY
    id_key: str = "client_id"
    secret_key: str = "client_secret"
    policy: FilePolicy = STRICT

    @property
    def location(self) -> str:
        return f"file:{self.path}"

    def read(self) -> tuple[str, SecretValue]:
        raw = read_secret_file(self.path, policy=self.policy)
        return _pair_from_json(
            raw.reveal(), f"secret file {self.path}", self.id_key, self.secret_key
        )

    def write(self, client_id: str, secret: SecretValue) -> None:
        try:
            existing: str | None = read_secret_file(self.path, policy=self.policy).reveal()
        except SecretError:
            existing = None  # missing or unreadable: start a fresh document
        text = _merged(existing, self.id_key, self.secret_key, client_id, secret)
        write_secret_file(self.path, SecretValue(text))


class AwsSecretsManagerCredentialStore:
    """A JSON secret in AWS Secrets Manager; `write` adds a new version (``put_secret_value``).

    AWS moves the ``AWSCURRENT`` label to the new version in the same call, and keeps the
    old one as ``AWSPREVIOUS``: the swap is atomic for readers. Pass ``request_token`` to
    make a retried write idempotent (same token + same value = no new version).
    """

    def __init__(
        self,
        secret_id: str,
        *,
        id_key: str = "client_id",
        secret_key: str = "client_secret",
        client: Any | None = None,
        region_name: str | None = None,
    ) -> None:
        self.secret_id = secret_id
        self.id_key = id_key
        self.secret_key = secret_key
        self._provider = AwsSecretsManagerProvider(client, region_name=region_name)

    @property
    def location(self) -> str:
        return f"aws-sm:{self.secret_id}"

    def _current_text(self) -> str:
        client = self._provider.client_for(self.secret_id)
        response = call_aws(client, "get_secret_value", self._where, SecretId=self.secret_id)
        text = response.get("SecretString")
        if not isinstance(text, str):
            raise SecretError(f"{self._where} has no SecretString")
        return text

    @property
    def _where(self) -> str:
        return f"AWS secret {self.secret_id}"

    def read(self) -> tuple[str, SecretValue]:
        return _pair_from_json(self._current_text(), self._where, self.id_key, self.secret_key)

    def write(
        self, client_id: str, secret: SecretValue, *, request_token: str | None = None
    ) -> None:
        try:
            existing: str | None = self._current_text()
        except SecretError:
            existing = None
        text = _merged(existing, self.id_key, self.secret_key, client_id, secret)
        kwargs: dict[str, Any] = {"SecretId": self.secret_id, "SecretString": text}
        if request_token:
            kwargs["ClientRequestToken"] = request_token
        client = self._provider.client_for(self.secret_id)
        call_aws(client, "put_secret_value", self._where, **kwargs)


def credential_store_for(client_id_ref: SecretRef, client_secret_ref: SecretRef) -> CredentialStore:
    """The store behind an auth block's two references; both must be keys of one secret.

    Raises ``ValueError`` when rotation is impossible (different secrets, no keys, or a
    scheme without write support), naming the fix.
    """
    same = (
        client_id_ref.scheme == client_secret_ref.scheme
        and client_id_ref.location == client_secret_ref.location
        and client_id_ref.key is not None
        and client_secret_ref.key is not None
    )
    if not same:
        raise ValueError(
            "rotation needs client_id and client_secret as two keys of one secret so they change "
            "together, e.g. aws-sm:ARN#client_id and aws-sm:ARN#client_secret"
        )
    assert client_id_ref.key is not None and client_secret_ref.key is not None
    id_key, secret_key = client_id_ref.key, client_secret_ref.key
    if client_secret_ref.scheme == "file":
        return FileCredentialStore(client_secret_ref.location, id_key=id_key, secret_key=secret_key)
    if client_secret_ref.scheme == "aws-sm":
        return AwsSecretsManagerCredentialStore(
            client_secret_ref.location, id_key=id_key, secret_key=secret_key
        )
    raise ValueError(
        f"{client_secret_ref.scheme}: secrets cannot be rotated by luigi-airbyte yet; "
        "use file: or aws-sm: for a rotated credential"
    )
