"""Secret references and the providers that resolve them; credential stores for rotation.

A secret is only ever written as a *reference* (``env:NAME``, ``file:/run/secrets/x``,
``aws-sm:ARN#key``, ``vault:mount/path#key``). It is resolved at run time into a
`SecretValue`, whose ``str``/``repr`` are masked, and `reveal()`-ed only where it is
used. This package imports only the standard library (plus boto3/hvac, lazily) so every
layer above may use it.
"""

from __future__ import annotations

from luigi_airbyte.secrets._file import (
    MAX_SECRET_BYTES,
    STRICT,
    FilePolicy,
    read_secret_file,
    write_secret_file,
)
from luigi_airbyte.secrets._providers import (
    AwsSecretsManagerProvider,
    EnvProvider,
    FileProvider,
    SecretProvider,
    VaultProvider,
    select_key,
)
from luigi_airbyte.secrets._refs import (
    REFERENCE_HELP,
    SCHEMES,
    InvalidSecretRef,
    SecretRef,
    SecretScheme,
    is_secret_key,
    is_secret_reference,
    literal_secret_reason,
    looks_like_literal_secret,
    looks_like_reference_attempt,
    suggest_reference,
)
from luigi_airbyte.secrets._resolver import SecretResolver, default_providers, resolve
from luigi_airbyte.secrets._rotation import (
    AwsSecretsManagerCredentialStore,
    CredentialStore,
    FileCredentialStore,
    credential_store_for,
)
from luigi_airbyte.secrets._value import MASK, SecretValue

__all__ = [
    "MASK",
    "MAX_SECRET_BYTES",
    "REFERENCE_HELP",
    "SCHEMES",
    "STRICT",
    "AwsSecretsManagerCredentialStore",
    "AwsSecretsManagerProvider",
    "CredentialStore",
    "EnvProvider",
    "FileCredentialStore",
    "FilePolicy",
    "FileProvider",
    "InvalidSecretRef",
    "SecretProvider",
    "SecretRef",
    "SecretResolver",
    "SecretScheme",
    "SecretValue",
    "VaultProvider",
    "credential_store_for",
    "default_providers",
    "is_secret_key",
    "is_secret_reference",
    "literal_secret_reason",
    "looks_like_literal_secret",
    "looks_like_reference_attempt",
    "read_secret_file",
    "resolve",
    "select_key",
    "suggest_reference",
    "write_secret_file",
]
