"""The console script tunes the collector and freezes the heap when its command ends (the
interpreter exits next); ``main(argv)`` in a caller's process leaves the collector alone.
Deterministic: the collector's state is read after ``main`` returns."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from luigi_airbyte.cli import app

PROBE = """
import gc, json, sys
sys.argv = ["luigi-airbyte", "--version"]
from luigi_airbyte.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold())}))
"""


def test_console_script_freezes_the_heap_at_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["frozen"] > 1000
    assert state["threshold"] == list(app.GC_THRESHOLD)


def test_main_with_argv_leaves_the_collector_alone() -> None:
    before = (gc.get_freeze_count(), gc.get_threshold())
    try:
        app.main(["--version"])
    except SystemExit:
        pass
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
