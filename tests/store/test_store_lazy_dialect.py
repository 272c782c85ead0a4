"""A SQLite store never loads SQLAlchemy's PostgreSQL dialect (~20 ms of every command's
start): the dialect ``INSERT``s with ``ON CONFLICT`` are imported when first used.
Deterministic: a fresh interpreter writes steps, skip notes and hints, then lists what
it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from luigi_airbyte.store import Store
store = Store(sys.argv[1]).open()
run_id = store.start_run("p")
store.upsert_step(run_id, "a", kind="sync", status="running")
store.add_skipped_steps(run_id, [{"step_name": "b", "kind": "sync", "status": "fresh",
                                  "message": "fresh"}], [])
assert store.record_hint("9f3c1c5e-1111-4a5b-9c2d-000000000001", 7)
assert [s.step_name for s in store.get_run(run_id).steps] == ["a", "b"]
store.close()
print(json.dumps(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects."))))
"""


def test_a_sqlite_store_does_not_load_the_postgresql_dialect(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, f"sqlite:///{tmp_path / 'store.db'}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "sqlalchemy.dialects.sqlite" in loaded
    assert not [m for m in loaded if m.startswith("sqlalchemy.dialects.postgresql")]


JUNIT_PROBE = """
import json, sys
from luigi_airbyte.store import Store, json_report, junit_xml
store = Store(sys.argv[1]).open()
run_id = store.start_run("p")
store.upsert_step(run_id, "a", kind="sync", status="succeeded")
json_report(store.get_run(run_id))
before = "xml.etree.ElementTree" in sys.modules
assert "<testsuites" in junit_xml(store.get_run(run_id))
print(json.dumps([before, "xml.etree.ElementTree" in sys.modules]))
"""


def test_elementtree_is_loaded_only_to_write_junit(tmp_path: Path) -> None:
    """A run writes JUnit only with ``--junit``; ElementTree (~8 ms) waits for it."""
    done = subprocess.run(
        [sys.executable, "-c", JUNIT_PROBE, f"sqlite:///{tmp_path / 'store.db'}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True]
