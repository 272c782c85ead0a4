"""Real Airbyte connectors: their environments are built once per machine and reused.

The first test that needs a connector builds its virtualenv in the shared cache
(~/.cache/luigi-airbyte/connectors, or $LUIGI_AIRBYTE_CONNECTORS_DIR) and says so, on the
terminal and as a warning in the test summary; later runs, tests and processes reuse it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv, ensure_env, env_for

FAKER = "airbyte-source-faker==7.2.1"
# airbyte-source-file 0.6.0's published metadata pins smart-open[all]==0.6.0, which does not
# exist: the override replaces that pin, and azure-storage-blob is what [all] brought
FILE = ["airbyte-source-file==0.6.0", "azure-storage-blob"]
FILE_OVERRIDES = ["smart-open>=6.3,<8"]


def _build(
    pytestconfig: pytest.Config, requirement: str | list[str], overrides: Sequence[str] = ()
) -> ConnectorEnv:
    if env_for(requirement, overrides).ready:
        return ensure_env(requirement, overrides)
    capman: Any = pytestconfig.pluginmanager.getplugin("capturemanager")
    started = time.monotonic()

    def say(text: str) -> None:
        if capman is not None:
            with capman.global_and_fixture_disabled():
                print(f"\n[connectors] {text}", flush=True)

    env = ensure_env(requirement, overrides, log=say)
    warnings.warn(
        f"built the connector environment of {env.requirement} in "
        f"{time.monotonic() - started:.0f} s ({env.path}); later runs reuse it",
        UserWarning,
        stacklevel=1,
    )
    return env


@pytest.fixture(scope="session")
def faker_env(pytestconfig: pytest.Config) -> Iterator[ConnectorEnv]:
    yield _build(pytestconfig, FAKER)


@pytest.fixture(scope="session")
def file_env(pytestconfig: pytest.Config) -> Iterator[ConnectorEnv]:
    yield _build(pytestconfig, FILE, FILE_OVERRIDES)
