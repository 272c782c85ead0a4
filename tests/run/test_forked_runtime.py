"""A forked Luigi worker inherits what its run already paid for: the store, checked and
migrated once by the run, and the pipeline's graphs. Each task process used to open the
store again (a write lock and a dozen schema queries) and rebuild the graph."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from luigi_airbyte.app.runtime import Runtime

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
  auth: {type: bearer, token: "env:UNUSED_TOKEN"}
state_dir: state
owners: {ops: {}}
pipelines:
  p: {owner: ops, steps: [{sync: a, connection: A}]}
"""


def test_a_forked_worker_shares_the_runs_store_and_graphs(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE)
    runtime = Runtime.load(path)
    store, graph = runtime.store(), runtime.graph("p")
    run_id = store.start_run("p")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            child = runtime.for_this_process()
            shared = child is not runtime and child.store() is store and child.graph("p") is graph
            child.store().add_event(run_id, "child.wrote")
            code = 0 if shared else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [e.name for e in store.events(run_id)] == ["child.wrote"]
    runtime.close()
