"""LineageEmitter: START/COMPLETE/FAIL RunEvents with the right ids and datasets."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openlineage.client")

from openlineage.client.event_v2 import RunEvent, RunState
from openlineage.client.serde import Serde
from openlineage.client.transport.transport import Transport

from luigi_airbyte.observe import LineageEmitter, dbt_datasets, sync_datasets
from luigi_airbyte.observe.lineage import pipeline_run_id, step_run_id
from luigi_airbyte.observe.redact import Redactor


class MemoryTransport(Transport):
    kind = "memory"

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any) -> None:
        self.events.append(event)


class BrokenTransport(Transport):
    kind = "broken"

    def emit(self, event: Any) -> None:
        raise ConnectionError("marquez is down")


RUN = "2024-05-01T02:00:00-nightly"


def check_run_event(doc: dict[str, Any]) -> None:
    """The parts of the OpenLineage RunEvent schema a consumer (Marquez) relies on."""
    for key in (
        "eventType",
        "eventTime",
        "run",
        "job",
        "inputs",
        "outputs",
        "producer",
        "schemaURL",
    ):
        assert key in doc, key
    assert doc["eventType"] in {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
    uuid.UUID(doc["run"]["runId"])
    assert doc["job"]["namespace"] and doc["job"]["name"]
    assert "T" in doc["eventTime"]
    assert doc["schemaURL"].startswith("https://openlineage.io/spec/")
    for ds in doc["inputs"] + doc["outputs"]:
        assert ds["namespace"] and ds["name"]
    for facet in list(doc["run"].get("facets", {}).values()) + list(
        doc["job"].get("facets", {}).values()
    ):
        assert facet["_producer"] and facet["_schemaURL"]


def test_sync_step_start_and_complete() -> None:
    transport = MemoryTransport()
    emitter = LineageEmitter(transport, redactor=Redactor())
    inputs, outputs = sync_datasets(
        "Postgres CRM",
        ["users", "orders"],
        destination_namespace="duckdb:///data/warehouse.duckdb",
        table_prefix="raw.",
    )
    kwargs = dict(
        run_id=RUN, pipeline="nightly", step="crm", step_type="sync", inputs=inputs, outputs=outputs
    )
    emitter.start(**kwargs)  # type: ignore[arg-type]
    emitter.complete(**kwargs)  # type: ignore[arg-type]
    start, complete = transport.events
    assert all(isinstance(e, RunEvent) for e in transport.events)
    assert (start.eventType, complete.eventType) == (RunState.START, RunState.COMPLETE)
    assert start.run.runId == complete.run.runId == step_run_id(RUN, "crm")
    assert start.job.namespace == "luigi-airbyte" and start.job.name == "nightly.crm"
    assert [(d.namespace, d.name) for d in start.inputs] == [("airbyte", "Postgres CRM")]
    assert [(d.namespace, d.name) for d in complete.outputs] == [
        ("duckdb:///data/warehouse.duckdb", "raw.users"),
        ("duckdb:///data/warehouse.duckdb", "raw.orders"),
    ]
    parent = start.run.facets["parent"]
    assert parent.run.runId == pipeline_run_id(RUN) and parent.job.name == "nightly"
    assert start.job.facets["jobType"].jobType == "SYNC"
    for event in transport.events:
        check_run_event(json.loads(Serde.to_json(event)))


def test_dbt_step_fail_carries_redacted_error(canary: str) -> None:
    transport = MemoryTransport()
    redactor = Redactor()
    redactor.register(canary)
    emitter = LineageEmitter(transport, namespace="acme", redactor=redactor)
    inputs, outputs = dbt_datasets(
        ["stg_users", "dim_users"], namespace="postgres://wh:5432", sources=["raw.users"]
    )
    emitter.fail(
        run_id=RUN,
        pipeline="nightly",
        step="dbt",
        step_type="dbt",
        inputs=inputs,
        outputs=outputs,
        error=f"dbt failed: could not connect with password {canary}",
    )
    (fail,) = transport.events
    assert fail.eventType == RunState.FAIL
    assert [d.name for d in fail.outputs] == ["stg_users", "dim_users"]
    assert [d.name for d in fail.inputs] == ["raw.users"]
    doc = Serde.to_json(fail)
    assert canary not in doc
    assert "dbt failed" in json.loads(doc)["run"]["facets"]["errorMessage"]["message"]
    check_run_event(json.loads(doc))


def test_run_ids() -> None:
    real = str(uuid.uuid4())
    assert pipeline_run_id(real) == real  # a UUID run id is used as is
    assert pipeline_run_id("not-a-uuid") == pipeline_run_id("not-a-uuid")
    assert step_run_id(RUN, "crm") != step_run_id(RUN, "dbt")
    assert step_run_id(RUN, "crm", attempt=2) != step_run_id(RUN, "crm")


def test_file_transport_writes_valid_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    emitter = LineageEmitter.to_file(str(path), redactor=Redactor())
    emitter.start(run_id=RUN, pipeline="nightly", step="crm", step_type="sync")
    emitter.complete(run_id=RUN, pipeline="nightly", step="crm", step_type="sync")
    emitter.close()
    docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert [d["eventType"] for d in docs] == ["START", "COMPLETE"]
    for doc in docs:
        check_run_event(doc)


def test_console_transport(caplog: pytest.LogCaptureFixture) -> None:
    emitter = LineageEmitter.to_console(redactor=Redactor())
    with caplog.at_level(logging.INFO, logger="openlineage"):
        emitter.start(run_id=RUN, pipeline="nightly", step="crm", step_type="sync")
    assert '"eventType": "START"' in caplog.text or '"eventType":"START"' in caplog.text


def test_broken_transport_never_fails_the_step(caplog: pytest.LogCaptureFixture) -> None:
    emitter = LineageEmitter(BrokenTransport(), redactor=Redactor())
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.observe.lineage"):
        for _ in range(3):
            assert emitter.start(run_id=RUN, pipeline="p", step="s", step_type="sync") is None
    assert emitter.failures == 3
    assert sum("was not emitted" in r.getMessage() for r in caplog.records) == 1


def test_missing_package_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openlineage.client", None)
    with pytest.raises(ImportError, match=r"luigi-airbyte\[lineage\]"):
        LineageEmitter(MemoryTransport())
