"""Start-up: ``luigi-airbyte --help`` imports only what it uses (issue 10, item 6).

Deterministic, not timed: a fresh interpreter runs the CLI's ``--help`` and reports which
heavy modules ended up in ``sys.modules``. The timing lives in benchmarks/scale.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("luigi", "sqlalchemy", "duckdb", "httpx", "luigi_airbyte.app.execute")

PROBE = """
import json, sys
from luigi_airbyte.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = %r
found = [m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)]
print(json.dumps(sorted(found)))
"""


def imported_by(*argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [("--help",), ("run", "--help"), ("validate", "--help")])
def test_help_imports_no_heavy_module(argv: tuple[str, ...]) -> None:
    assert imported_by(*argv) == []
