"""Fixtures for the sandbox HTTP tests (helpers live in sandbox_http_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_http_helpers import SPECS, SpecValidator, fast_world, token_for

from luigi_airbyte.sandbox import Sandbox


@pytest.fixture(scope="session")
def spec() -> SpecValidator:
    """The loaded Airbyte specs; skips when ../shared/airbyte-api is not there."""
    if not (SPECS / "public-api.yaml").exists():
        pytest.skip(f"Airbyte specs not found at {SPECS} (set AIRBYTE_SPECS_DIR)")
    return SpecValidator(SPECS)


@pytest.fixture(scope="session")
def validated(spec: SpecValidator) -> Callable[..., httpx.Client]:
    """Build httpx clients whose every response is checked against the specs."""

    def make(**kwargs: Any) -> httpx.Client:
        def hook(response: httpx.Response) -> None:
            response.read()
            spec.check(response)

        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("verify", False)  # plain HTTP; skips loading the CA bundle
        return httpx.Client(event_hooks={"response": [hook]}, **kwargs)

    return make


@pytest.fixture
def sb(airbyte_sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> Sandbox:
    """A started sandbox with the fast test world."""
    return airbyte_sandbox_factory(fast_world(tmp_path))


@pytest.fixture
def client(sb: Sandbox, validated: Callable[..., httpx.Client]) -> Iterator[httpx.Client]:
    """Public API client with a bearer token; every response is spec-validated."""
    with validated(base_url=sb.url, headers={"Authorization": f"Bearer {token_for(sb)}"}) as c:
        yield c


@pytest.fixture
def config_client(sb: Sandbox, validated: Callable[..., httpx.Client]) -> Iterator[httpx.Client]:
    """Config API client (``/api/v1``) with a bearer token; responses spec-validated."""
    headers = {"Authorization": f"Bearer {token_for(sb)}"}
    with validated(base_url=f"{sb.config_api_root}/v1", headers=headers) as c:
        yield c
