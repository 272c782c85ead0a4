from __future__ import annotations

import json

import pytest

from luigi_airbyte.checks import CheckResult, FailedChecksError, raise_for
from luigi_airbyte.errors import CheckFailedError


def test_raise_for_lists_only_failed_error_checks() -> None:
    results = [
        CheckResult("a", "sql", True),
        CheckResult("b", "sql", False, "warning", "just a warning"),
        CheckResult("c", "counts", False, "error", "rows lost"),
        CheckResult("d", "drift", False, "error", "mode changed"),
    ]
    with pytest.raises(FailedChecksError) as info:
        raise_for(results)
    err = info.value
    assert isinstance(err, CheckFailedError) and err.exit_code == 6
    assert [r.name for r in err.results] == ["c", "d"]
    assert "2 checks failed" in str(err) and "c: rows lost" in str(err)
    assert "just a warning" not in str(err)


def test_one_failed_check_reads_as_one_sentence() -> None:
    """The recap and the table show the message on one line: no count, no list marker."""
    with pytest.raises(FailedChecksError) as info:
        raise_for([CheckResult("lost:orders", "counts", False, "error", "50 records lost")])
    assert str(info.value) == "check lost:orders failed: 50 records lost"


def test_raise_for_returns_failed_warnings() -> None:
    warn = CheckResult("b", "sql", False, "warning", "w")
    assert raise_for([CheckResult("a", "sql", True), warn]) == [warn]


def test_result_is_immutable_and_serialisable() -> None:
    details = {"n": 1, "nested": {"x": (1, 2)}}
    result = CheckResult("a", "counts", False, "error", "m", details)
    details["n"] = 2
    assert result.details["n"] == 1
    with pytest.raises(TypeError):
        result.details["n"] = 3  # type: ignore[index]
    assert json.loads(json.dumps(result.to_dict()))["details"]["nested"] == {"x": [1, 2]}
    with pytest.raises(ValueError):
        CheckResult("a", "sql", True, "fatal")  # type: ignore[arg-type]
