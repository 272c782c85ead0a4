"""Every file in invalid/ fails with the problem its header promises.

Header lines: ``# expect: <substring of the message>``, ``# field: <field path>`` and an
optional ``# line: N``. The CLI tests reuse these files to assert exit 3 and that
Airbyte is never contacted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.pipeline import load_pipeline_file

INVALID = Path(__file__).parent / "invalid"
FILES = sorted(INVALID.glob("*.yaml"))
_HEADER = re.compile(rb"^# (expect|field|line): (.*)$", re.MULTILINE)


def _header(path: Path) -> dict[str, str]:
    return {k.decode(): v.decode("utf-8").strip() for k, v in _HEADER.findall(path.read_bytes())}


def test_there_are_enough_invalid_files() -> None:
    assert len(FILES) >= 24


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_invalid_file_is_reported(path: Path) -> None:
    header = _header(path)
    assert "expect" in header and "field" in header, f"{path.name}: header incomplete"
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(path)
    error = info.value
    text = str(error)
    assert str(path) in text, "the message names the file"
    matching = [
        p for p in error.problems if header["expect"] in p.message or header["expect"] in p.fix
    ]
    assert matching, f"{path.name}: no problem says {header['expect']!r}:\n{text}"
    problem: Problem = matching[0]
    assert problem.source == str(path)
    assert problem.field == header["field"], text
    if "line" in header:
        assert problem.line == int(header["line"]), text
    assert all(p.fix for p in error.problems), f"{path.name}: a problem has no fix:\n{text}"
    assert error.exit_code == 3


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(missing)
    (problem,) = info.value.problems
    assert problem.message == "file not found"
    assert problem.source == str(missing) and problem.fix


def test_directory_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_pipeline_file(tmp_path)
