"""`SecretResolver`: one place that resolves references, with a per-run cache.

The cache means a run asks AWS or Vault once per reference, and that every task sees
the same value for the whole run. `invalidate()` drops it, which a credential rotation
does right after it writes a new secret.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets._providers import (
    AwsSecretsManagerProvider,
    EnvProvider,
    FileProvider,
    SecretProvider,
    VaultProvider,
)
from luigi_airbyte.secrets._refs import InvalidSecretRef, SecretRef
from luigi_airbyte.secrets._value import SecretValue


def default_providers() -> dict[str, SecretProvider]:
    """Env, file (strict permissions), AWS SM and Vault; SDKs load on first use."""
    return {
        "env": EnvProvider(),
        "file": FileProvider(),
        "aws-sm": AwsSecretsManagerProvider(),
        "vault": VaultProvider(),
    }


def _as_ref(ref: SecretRef | str) -> SecretRef:
    if isinstance(ref, SecretRef):
        return ref
    try:
        return SecretRef.parse(ref)
    except InvalidSecretRef as exc:
        raise SecretError(f"not a secret reference: {exc.reason}. Fix: {exc.fix}") from None


class SecretResolver:
    """Resolve references through per-scheme providers; thread-safe; cached unless told not to."""

    def __init__(
        self, providers: Mapping[str, SecretProvider] | None = None, *, cache: bool = True
    ) -> None:
        self._providers = default_providers()
        if providers:
            self._providers.update(providers)
        self._use_cache = cache
        self._cache: dict[SecretRef, SecretValue] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: SecretRef | str) -> SecretValue:
        """The secret ``ref`` points to; `SecretError` if it cannot be fetched."""
        parsed = _as_ref(ref)
        with self._lock:
            cached = self._cache.get(parsed)
        if cached is not None:
            return cached
        provider = self._providers.get(parsed.scheme)
        if provider is None:
            raise SecretError(f"no provider is configured for {parsed.scheme}: references")
        value = provider.fetch(parsed)
        if self._use_cache:
            with self._lock:
                self._cache[parsed] = value
        return value

    def invalidate(self, ref: SecretRef | str | None = None) -> None:
        """Forget one cached reference, or all of them (after a rotation)."""
        with self._lock:
            if ref is None:
                self._cache.clear()
            else:
                self._cache.pop(_as_ref(ref), None)


def resolve(ref: SecretRef | str) -> SecretValue:
    """Resolve once with the default providers and no cache (use a `SecretResolver` in a run)."""
    return SecretResolver(cache=False).resolve(ref)
