"""Without a terminal (``run --json``, CI, a log file) the run imports no rich: the
progress lines are plain, the JSON document needs no console, and httpx's own command
line (which imports rich and pygments) is not loaded by the console script.
Deterministic: a fresh interpreter reports what it imported."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import io, json, sys
sys.argv = ["luigi-airbyte", "--version"]
from luigi_airbyte.cli import main
try:
    main()
except SystemExit:
    pass
import httpx
from luigi_airbyte.cli.progress import ProgressPrinter
from luigi_airbyte.observe.events import Event
out = io.StringIO()
printer = ProgressPrinter(out)
printer.emit(Event("step.fresh", {"step": "crm", "message": "last sync 1h ago"}))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("rich", "pygments"))
print(json.dumps({"loaded": loaded, "line": out.getvalue(), "cli": httpx.main.__module__}))
"""


def test_a_plain_run_imports_no_rich() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["loaded"] == []
    assert state["line"] == "↷ crm: skipped, last sync 1h ago\n"
    assert state["cli"] == "httpx"  # httpx's fallback, defined in its __init__


def test_a_terminal_still_gets_rich_colours() -> None:
    import io

    from luigi_airbyte.cli.progress import ProgressPrinter
    from luigi_airbyte.observe.events import Event

    out = io.StringIO()
    printer = ProgressPrinter(out, color=True)
    printer.emit(Event("step.fresh", {"step": "crm", "message": "fresh"}))
    assert printer.console is not None
    assert "\x1b[" in out.getvalue() and "crm: skipped, fresh" in out.getvalue()


def test_the_skip_notes_print_at_once_as_they_would_one_by_one() -> None:
    """A scheduling pass hands its 1,000 skip notes over at once: the same lines."""
    import io

    from luigi_airbyte.cli.progress import ProgressPrinter
    from luigi_airbyte.observe.events import Event

    events = [
        Event("step.fresh", {"step": "a", "message": "last sync ended 5s ago (window 6h)"}),
        Event("run.started", {}),  # not printed
        Event("step.skipped", {"step": "b", "message": "job 7 already synced this date"}),
    ]
    one, many = io.StringIO(), io.StringIO()
    for event in events:
        ProgressPrinter(one, color=False).emit(event)
    ProgressPrinter(many, color=False).emit_many(events)
    assert many.getvalue() == one.getvalue()
    assert many.getvalue().count("\n") == 2
