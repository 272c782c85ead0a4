"""AWS Secrets Manager (moto) and Vault KV v2 (a stand-in hvac client; no server)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets import (
    AwsSecretsManagerCredentialStore,
    AwsSecretsManagerProvider,
    SecretRef,
    SecretResolver,
    SecretValue,
    VaultProvider,
    credential_store_for,
)

CANARY = "CANARY-aws-9a7f"
REGION = "eu-west-1"


def _text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def _create(client: Any, name: str, value: str) -> str:
    arn: str = client.create_secret(Name=name, SecretString=value)["ARN"]
    return arn


def test_aws_json_key_whole_string_and_region_from_arn(aws: Any) -> None:
    arn = _create(aws, "airbyte", json.dumps({"client_id": "app", "client_secret": CANARY}))
    _create(aws, "plain", CANARY)
    provider = AwsSecretsManagerProvider()  # real boto3 client, built lazily in the ARN's region
    assert provider.fetch(SecretRef.parse(f"aws-sm:{arn}#client_secret")).reveal() == CANARY
    assert provider.fetch(SecretRef.parse("aws-sm:plain")).reveal() == CANARY
    assert SecretResolver().resolve(f"aws-sm:{arn}#client_id").reveal() == "app"


def test_aws_errors_are_clear_and_never_leak(aws: Any) -> None:
    arn = _create(aws, "airbyte", json.dumps({"client_secret": CANARY}))
    _create(aws, "plain", CANARY)
    provider = AwsSecretsManagerProvider(aws)
    with pytest.raises(SecretError, match="ResourceNotFoundException") as info:
        provider.fetch(SecretRef.parse("aws-sm:missing"))
    assert "check the ARN" in str(info.value)
    with pytest.raises(
        SecretError, match=r"has no key 'client_id' \(keys: client_secret\)"
    ) as info:
        provider.fetch(SecretRef.parse(f"aws-sm:{arn}#client_id"))
    assert CANARY not in _text(info.value)
    with pytest.raises(SecretError, match="is not a JSON object") as info:
        provider.fetch(SecretRef.parse("aws-sm:plain#key"))
    assert CANARY not in _text(info.value)
    aws.create_secret(Name="binary", SecretBinary=b"\x00\x01")
    with pytest.raises(SecretError, match="binary secrets are not supported"):
        provider.fetch(SecretRef.parse("aws-sm:binary"))


def test_aws_credential_store_rotates_atomically(aws: Any) -> None:
    arn = _create(
        aws, "airbyte", json.dumps({"client_id": "old", "client_secret": "s1", "team": "dp"})
    )
    store = credential_store_for(
        SecretRef.parse(f"aws-sm:{arn}#client_id"), SecretRef.parse(f"aws-sm:{arn}#client_secret")
    )
    assert isinstance(store, AwsSecretsManagerCredentialStore)
    assert store.read()[0] == "old"
    resolver = SecretResolver()
    assert resolver.resolve(f"aws-sm:{arn}#client_secret").reveal() == "s1"
    assert isinstance(store, AwsSecretsManagerCredentialStore)
    store.write(
        "new", SecretValue(CANARY), request_token="rotation-0001-aaaaaaaaaaaaaaaaaaaaaaaaaa"
    )
    store.write(
        "new", SecretValue(CANARY), request_token="rotation-0001-aaaaaaaaaaaaaaaaaaaaaaaaaa"
    )
    client_id, secret = store.read()
    assert client_id == "new" and secret.reveal() == CANARY
    current = json.loads(aws.get_secret_value(SecretId=arn)["SecretString"])
    assert current == {"client_id": "new", "client_secret": CANARY, "team": "dp"}
    previous = json.loads(
        aws.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
    )
    assert previous["client_id"] == "old"
    versions = aws.list_secret_version_ids(SecretId=arn)["Versions"]
    assert len(versions) == 2, "a retried write with the same token adds no version"
    assert resolver.resolve(f"aws-sm:{arn}#client_secret").reveal() == "s1"  # cached ...
    resolver.invalidate()
    assert (
        resolver.resolve(f"aws-sm:{arn}#client_secret").reveal() == CANARY
    )  # ... until invalidated


# --- Vault ---------------------------------------------------------------------------------


class InvalidPath(Exception):  # named like hvac's exceptions on purpose
    pass


class Forbidden(Exception):
    pass


class FakeKvV2:
    def __init__(self, data: dict[str, dict[str, Any]], error: Exception | None = None) -> None:
        self.data = data
        self.error = error
        self.calls: list[tuple[str, str]] = []

    def read_secret_version(
        self, *, path: str, mount_point: str, raise_on_deleted_version: bool
    ) -> Any:
        assert raise_on_deleted_version is True
        self.calls.append((mount_point, path))
        if self.error is not None:
            raise self.error
        if (mount_point, path) not in {tuple(k.split("/", 1)) for k in self.data}:
            raise InvalidPath(f"no secret at {mount_point}/{path}")
        return {"data": {"data": self.data[f"{mount_point}/{path}"], "metadata": {"version": 3}}}


class FakeHvacClient:
    """The slice of ``hvac.Client`` the provider uses: ``client.secrets.kv.v2``."""

    def __init__(self, kv: FakeKvV2) -> None:
        self.secrets = type("S", (), {"kv": type("K", (), {"v2": kv})()})()


def test_vault_kv2_key() -> None:
    kv = FakeKvV2({"secret/airbyte/prod": {"client_id": "app", "client_secret": CANARY}})
    provider = VaultProvider(FakeHvacClient(kv))
    assert (
        provider.fetch(SecretRef.parse("vault:secret/airbyte/prod#client_secret")).reveal()
        == CANARY
    )
    assert kv.calls == [("secret", "airbyte/prod")]
    with pytest.raises(
        SecretError, match=r"has no key 'nope' \(keys: client_id, client_secret\)"
    ) as info:
        provider.fetch(SecretRef.parse("vault:secret/airbyte/prod#nope"))
    assert CANARY not in _text(info.value)


@pytest.mark.parametrize(
    ("error", "match"),
    [
        (InvalidPath("x"), "not found"),
        (Forbidden("x"), "permission denied"),
        (ConnectionError("x"), "read failed"),
    ],
)
def test_vault_errors(error: Exception, match: str) -> None:
    provider = VaultProvider(FakeHvacClient(FakeKvV2({}, error)))
    with pytest.raises(SecretError, match=match):
        provider.fetch(SecretRef.parse("vault:secret/airbyte#k"))


def test_vault_default_client_uses_hvac(monkeypatch: pytest.MonkeyPatch) -> None:
    import hvac

    made: list[Any] = []
    kv = FakeKvV2({"kv/app": {"k": "v"}})
    monkeypatch.setattr(hvac, "Client", lambda: made.append(1) or FakeHvacClient(kv))
    provider = VaultProvider()
    assert provider.fetch(SecretRef.parse("vault:kv/app#k")).reveal() == "v"
    provider.fetch(SecretRef.parse("vault:kv/app#k"))
    assert made == [1], "one client per provider"


def test_missing_sdk_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_sdk(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in ("boto3", "hvac"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sdk)
    with pytest.raises(SecretError, match=r"pip install 'luigi-airbyte\[aws\]'"):
        AwsSecretsManagerProvider().fetch(SecretRef.parse("aws-sm:x"))
    with pytest.raises(SecretError, match=r"pip install 'luigi-airbyte\[vault\]'"):
        VaultProvider().fetch(SecretRef.parse("vault:kv/app#k"))
