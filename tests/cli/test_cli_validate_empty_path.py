"""``validate ""`` and ``run ""``: the path is empty, not a directory called '.' (exit 3,
nothing read or written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.conftest import Invoke


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_empty_path_is_named_as_such(invoke: Invoke, isolated_cwd: Path, command: str) -> None:
    result = invoke(command, "")

    assert result.exit_code == 3, result.output
    assert "PIPELINE_FILE: the path is empty" in result.stderr, result.stderr
    assert "directory" not in result.stderr and ".:" not in result.stderr
    assert list(isolated_cwd.iterdir()) == []


def test_an_empty_path_in_json(invoke: Invoke, isolated_cwd: Path) -> None:
    result = invoke("validate", "", "--json")

    assert result.exit_code == 3, result.output
    [problem] = json.loads(result.stdout)["error"]["problems"]
    assert problem["field"] == "PIPELINE_FILE" and problem["message"] == "the path is empty"
