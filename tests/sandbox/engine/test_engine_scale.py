"""Scale guarantees of the engine, counted rather than timed.

A page of connections renders only that page; job lookups by connection look only at that
connection's jobs. (Times are in benchmarks/sandbox_scale.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import base_world

from luigi_airbyte.sandbox.engine import Engine

CONNECTIONS = 30


def many_connections(tmp_path: Path) -> dict[str, Any]:
    extra = [
        {
            "name": f"c{i}",
            "source": "gen",
            "destination": "wh",
            "prefix": f"p{i}_",
            "streams": [],
            "job_duration_seconds": 0,
        }
        for i in range(2, CONNECTIONS + 1)
    ]
    return base_world(tmp_path, extra_connections=extra)


class _CountingJobs(dict[int, Any]):
    """The engine's job table, counting walks over every job."""

    walks = 0

    def values(self) -> Any:
        type(self).walks += 1
        return super().values()

    def items(self) -> Any:
        type(self).walks += 1
        return super().items()


def test_a_page_of_connections_renders_only_that_page(
    tmp_path: Path, make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(many_connections(tmp_path), start=False)
    rendered: list[str] = []
    original = Engine._connection_dict

    def spy(self: Engine, cs: Any) -> dict[str, Any]:
        rendered.append(cs.name)
        return original(self, cs)

    monkeypatch.setattr(Engine, "_connection_dict", spy)
    listing = engine.list_connections()
    assert len(listing) == CONNECTIONS
    page = listing[10:15]
    assert [c["name"] for c in page] == rendered == [f"c{i}" for i in range(11, 16)]
    rendered.clear()
    assert [c["name"] for c in engine.list_connections()[25:40]] == rendered
    assert len(rendered) == 5


def test_job_lookups_by_connection_do_not_walk_every_job(
    tmp_path: Path, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(many_connections(tmp_path), start=False)
    ids = [c["connectionId"] for c in engine.list_connections()]
    first = engine.create_job(ids[1], "sync")
    engine._jobs = _CountingJobs(engine._jobs)
    _CountingJobs.walks = 0
    second = engine.create_job(ids[2], "sync")  # checks for an active job on ids[2] only
    listed = engine.list_jobs(connection_id=ids[1])
    infos = engine.list_job_infos(config_id=ids[2], config_types=["sync"])
    assert _CountingJobs.walks == 0
    assert [j["jobId"] for j in listed] == [first["jobId"]]
    assert [i["job"]["id"] for i in infos["jobs"]] == [second["jobId"]]
    assert len(engine.list_jobs()) == 2  # a listing of every job still walks them all
    assert _CountingJobs.walks == 1
