"""A sandbox imports its destinations' drivers when it starts, not at its first job.

Imported by the first job, DuckDB's ~0.1 s held every job of a run's first wave at its
destination's lock and, holding the GIL, delayed the API's answers
(``benchmarks/scale.py``, N = 10: the first wave's 1 s jobs took 1.12 s). Each case runs
in a fresh interpreter: in this one another test may have imported the driver already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = textwrap.dedent(
    """
    import sys
    from luigi_airbyte.sandbox import Sandbox
    world = {
        "workspaces": [{"name": "w"}],
        "sources": [{"name": "s", "type": "generator", "streams": [{"name": "r", "size": 1}]}],
        "destinations": [{"name": "d", "type": "%s", "path": sys.argv[1]}],
        "connections": [{"name": "c", "source": "s", "destination": "d"}],
    }
    assert "duckdb" not in sys.modules
    with Sandbox(world) as sandbox:
        print("duckdb" in sys.modules, len(sandbox.requests()))
    """
)


@pytest.mark.parametrize(("kind", "imported"), [("duckdb", "True"), ("sqlite", "False")])
def test_starting_a_sandbox_imports_the_drivers_its_destinations_use(
    tmp_path: Path, kind: str, imported: str
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE % kind, str(tmp_path / f"wh.{kind}")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # imported before any request and any job; a world without DuckDB does not pay it
    assert out.stdout.split() == [imported, "0"]
