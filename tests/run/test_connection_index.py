"""Resolving the run's steps against its one connection listing costs one pass over the
listing, not one per step, and answers as `AirbyteClient.resolve_connection` does."""

from __future__ import annotations

import pytest

from luigi_airbyte.airbyte import Connection
from luigi_airbyte.airbyte.client import AirbyteClient
from luigi_airbyte.airbyte.models import ConnectionStatus
from luigi_airbyte.app.runtime import RunShared, Runtime
from luigi_airbyte.errors import ConnectionLookupError
from luigi_airbyte.pipeline.settings import resolve_settings

N = 500


def _conn(i: int, name: str) -> Connection:
    return Connection(
        connection_id=f"00000000-0000-4000-8000-{i:012d}",
        name=name,
        source_id="s",
        destination_id="d",
        workspace_id="w",
        status=ConnectionStatus.ACTIVE,
    )


@pytest.fixture
def runtime() -> Runtime:
    listing = [_conn(i, f"c{i}") for i in range(N)] + [_conn(N, "twin"), _conn(N + 1, "twin")]
    settings = resolve_settings(
        cli={"airbyte.url": "http://127.0.0.1:9"}, env={}, luigi_cfg_paths=[]
    )
    return Runtime(settings, shared=RunShared(visible=listing))


def test_names_and_ids_resolve_from_the_listing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[str] = []
    real = AirbyteClient.resolve_connection

    def counting(self: AirbyteClient, name_or_id: str, **kw: object) -> Connection:
        scans.append(name_or_id)
        return real(self, name_or_id, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(AirbyteClient, "resolve_connection", counting)

    found = [runtime.connection(f"c{i}") for i in range(N)]

    assert [c.name for c in found] == [f"c{i}" for i in range(N)]
    assert scans == []  # no scan of the listing per name
    upper = f"00000000-0000-4000-8000-{7:012d}".upper()
    assert runtime.connection(upper).name == "c7"  # an id, in any case, without a request
    with pytest.raises(ConnectionLookupError) as err:
        runtime.connection("twin")
    assert "twin" in str(err.value) and scans == ["twin"]
    with pytest.raises(ConnectionLookupError):
        runtime.connection("nobody")
