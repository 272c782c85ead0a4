"""Fixtures for the Airbyte client tests."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airbyte_fakes import BASE, FakeAirbyte, Sleeps

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy


@pytest.fixture
def fake() -> FakeAirbyte:
    return FakeAirbyte()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=4, base_delay=0.5, max_delay=8.0, sleep=sleeps, rng=random.Random(7)
    )


@pytest.fixture
def make_client(fake: FakeAirbyte, policy: RetryPolicy) -> Iterator[Callable[..., AirbyteClient]]:
    clients: list[AirbyteClient] = []

    def make(**kwargs: Any) -> AirbyteClient:
        kwargs.setdefault("url", BASE)
        kwargs.setdefault("transport", fake.transport())
        kwargs.setdefault("retry", policy)
        kwargs.setdefault("config_api_url", None)
        client = AirbyteClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(make_client: Callable[..., AirbyteClient]) -> AirbyteClient:
    """A client without auth (like an auth-disabled self-hosted Airbyte)."""
    return make_client()


@pytest.fixture
def cc_client(fake: FakeAirbyte, make_client: Callable[..., AirbyteClient]) -> AirbyteClient:
    """A client with client credentials and a working token endpoint."""
    fake.token()
    return make_client(auth=AirbyteClientCredentials("cid", "csecret"))
