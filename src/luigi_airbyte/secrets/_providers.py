"""Providers turn a `SecretRef` into a `SecretValue`: environment, files, AWS SM, Vault.

One provider per scheme, all with the same ``fetch(ref)`` shape, so the resolver can
cache and tests can swap any of them. The cloud SDKs are imported only when a
reference of theirs is resolved, with an install hint when they are missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets._file import STRICT, FilePolicy, read_secret_file
from luigi_airbyte.secrets._refs import SecretRef
from luigi_airbyte.secrets._value import SecretValue


class SecretProvider(Protocol):
    """Fetches the secret a reference points to; raises `SecretError` when it cannot."""

    def fetch(self, ref: SecretRef) -> SecretValue: ...


def select_key(raw: SecretValue, ref: SecretRef, where: str) -> SecretValue:
    """Pick ``ref.key`` out of a JSON-object secret (or return ``raw`` when there is no key)."""
    if ref.key is None:
        return raw
    try:
        doc = json.loads(raw.reveal())
    except ValueError:
        # `from None`: JSONDecodeError keeps the whole document in `.doc`.
        raise SecretError(
            f"{where} is not a JSON object, so {ref} cannot select key {ref.key!r}. "
            f"Fix: store a JSON object, or drop '#{ref.key}' from the reference"
        ) from None
    if not isinstance(doc, dict):
        raise SecretError(f"{where} is JSON but not an object; {ref} needs an object with keys")
    if ref.key not in doc:
        keys = ", ".join(sorted(str(k) for k in doc)[:20]) or "none"
        raise SecretError(
            f"{where} has no key {ref.key!r} (keys: {keys}). Fix: correct the key in {ref}"
        )
    value = doc[ref.key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SecretError(f"{where} key {ref.key!r} is not a string")
    text = value if isinstance(value, str) else str(value)
    if not text:
        raise SecretError(f"{where} key {ref.key!r} is empty. Fix: store the secret there")
    return SecretValue(text)


def _require_scheme(ref: SecretRef, scheme: str) -> None:
    if ref.scheme != scheme:
        raise SecretError(f"a {scheme} provider cannot resolve a {ref.scheme}: reference")


class EnvProvider:
    """``env:NAME`` from the process environment (or a given mapping, for tests)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def fetch(self, ref: SecretRef) -> SecretValue:
        _require_scheme(ref, "env")
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(ref.location)
        if value is None:
            raise SecretError(
                f"environment variable {ref.location} is not set (secret reference {ref}). "
                f"Fix: export {ref.location}=... in the environment that runs luigi-airbyte"
            )
        if not value:
            raise SecretError(
                f"environment variable {ref.location} is empty (secret reference {ref})"
            )
        return SecretValue(value)


class FileProvider:
    """``file:/path`` (whole file) or ``file:/path#key`` (key of a JSON object file)."""

    def __init__(self, policy: FilePolicy = STRICT) -> None:
        self.policy = policy

    def fetch(self, ref: SecretRef) -> SecretValue:
        _require_scheme(ref, "file")
        raw = read_secret_file(ref.location, policy=self.policy)
        return select_key(raw, ref, f"secret file {ref.location}")


def _import_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise SecretError(
            "aws-sm: references need boto3. Fix: pip install 'luigi-airbyte[aws]'"
        ) from exc
    return boto3


def _import_hvac() -> Any:
    try:
        import hvac
    except ImportError as exc:
        raise SecretError(
            "vault: references need hvac. Fix: pip install 'luigi-airbyte[vault]'"
        ) from exc
    return hvac


def aws_region_of(secret_id: str) -> str | None:
    """The region named in a Secrets Manager ARN, or None for a plain secret name."""
    parts = secret_id.split(":")
    return parts[3] if secret_id.startswith("arn:") and len(parts) > 3 else None


class AwsSecretsManagerProvider:
    """``aws-sm:ARN-or-name#key``: a JSON secret's key, or the whole SecretString without a key."""

    def __init__(self, client: Any | None = None, *, region_name: str | None = None) -> None:
        self._client = client
        self._region = region_name
        self._clients: dict[str | None, Any] = {}

    def client_for(self, secret_id: str) -> Any:
        """A boto3 client in the ARN's region (or the configured/default one)."""
        if self._client is not None:
            return self._client
        region = aws_region_of(secret_id) or self._region
        if region not in self._clients:
            self._clients[region] = _import_boto3().client("secretsmanager", region_name=region)
        return self._clients[region]

    def fetch(self, ref: SecretRef) -> SecretValue:
        _require_scheme(ref, "aws-sm")
        where = f"AWS secret {ref.location}"
        response = call_aws(
            self.client_for(ref.location), "get_secret_value", where, SecretId=ref.location
        )
        text = response.get("SecretString")
        if not isinstance(text, str):
            raise SecretError(f"{where} has no SecretString (binary secrets are not supported)")
        return select_key(SecretValue(text), ref, where)


def call_aws(client: Any, method: str, where: str, **kwargs: Any) -> Any:
    """Call a Secrets Manager method, translating botocore errors to `SecretError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(client, method)(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        detail = error.get("Message", "")
        raise SecretError(
            f"{where}: AWS Secrets Manager {method} failed: {code}"
            + (f" ({detail})" if detail else "")
            + ". Fix: check the ARN, the region and the IAM permissions"
        ) from None
    except BotoCoreError as exc:
        raise SecretError(f"{where}: AWS Secrets Manager {method} failed: {exc}") from None


class VaultProvider:
    """``vault:MOUNT/PATH#key`` from KV v2; the default client reads VAULT_ADDR/VAULT_TOKEN."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = _import_hvac().Client()
        return self._client

    def fetch(self, ref: SecretRef) -> SecretValue:
        _require_scheme(ref, "vault")
        mount, _, path = ref.location.partition("/")
        where = f"Vault secret {mount}/{path}"
        kv = self._get_client().secrets.kv.v2
        try:
            response = kv.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            )
        except Exception as exc:  # noqa: BLE001  (hvac may be absent when a client is injected)
            raise SecretError(f"{where}: {_vault_reason(exc)}") from None
        try:
            data = response["data"]["data"]
        except (KeyError, TypeError):
            raise SecretError(
                f"{where}: unexpected response shape; is {mount} a KV v2 engine?"
            ) from None
        return select_key(SecretValue(json.dumps(data)), ref, where)


def _vault_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "InvalidPath":
        return "not found. Fix: check the mount and path (KV v2: vault kv get MOUNT/PATH)"
    if name in ("Forbidden", "Unauthorized"):
        return "permission denied. Fix: check VAULT_TOKEN and the policy for this path"
    if name in ("VaultDown", "VaultNotInitialized", "BadGateway", "InternalServerError"):
        return f"Vault is unavailable ({name}). Fix: retry, or check VAULT_ADDR"
    return f"read failed ({name}). Fix: check VAULT_ADDR, VAULT_TOKEN and the path"
