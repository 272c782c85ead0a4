"""docs/exit-codes.md and ``luigi_airbyte.exit_codes`` say the same thing.

The table's codes and meanings are the enum's, row for row; every error class declares
one of these codes; and the rules the page states (the lowest of 3-7 wins, Luigi's
verdicts, plan/apply/preflight) are what the functions do.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import luigi_airbyte.errors as errors
from luigi_airbyte.exit_codes import (
    MEANINGS,
    ExitCode,
    for_apply,
    for_error,
    for_failed_step,
    for_plan,
    for_preflight,
    for_run,
    luigi_succeeded,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "exit-codes.md"
_ROW = re.compile(r"^\| (\d+) \| ([^|]+?) \|", re.MULTILINE)


def doc_table() -> dict[int, str]:
    """The first table of docs/exit-codes.md: code -> meaning."""
    return {int(code): meaning for code, meaning in _ROW.findall(DOC.read_text("utf-8"))}


def test_the_doc_table_lists_exactly_the_codes_and_meanings_of_the_code() -> None:
    assert doc_table() == {int(code): text for code, text in MEANINGS.items()}
    assert set(MEANINGS) == set(ExitCode)


def test_the_doc_table_parser_sees_a_changed_row(tmp_path: Path) -> None:
    text = DOC.read_text("utf-8").replace("| 6 | a check failed |", "| 6 | a check broke |")
    found = dict(_ROW.findall(text))
    assert found["6"] == "a check broke"


def _subclasses(cls: type[BaseException]) -> list[type[BaseException]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_error_class_declares_a_documented_code() -> None:
    for cls in [errors.LuigiAirbyteError, *_subclasses(errors.LuigiAirbyteError)]:
        assert isinstance(cls.exit_code, ExitCode), cls
        assert int(cls.exit_code) in doc_table(), cls


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.ConfigError("bad"), 3),
        (errors.StoreError("gone"), 4),
        (errors.SyncFailedError("failed"), 5),
        (errors.CheckFailedError("drift"), 6),
        (errors.TransformError("dbt"), 7),
        (errors.LuigiAirbyteError("ours, unclassified"), 1),
        (RuntimeError("a bug"), 1),
        (KeyboardInterrupt(), 130),
    ],
)
def test_an_error_maps_to_its_code(exc: BaseException, code: int) -> None:
    assert for_error(exc) == code


def test_a_caller_names_its_other_interrupts() -> None:
    class Terminated(BaseException):
        pass

    assert for_error(Terminated()) == 1
    assert for_error(Terminated(), interrupts=(KeyboardInterrupt, Terminated)) == 130


def test_a_step_stopped_by_ctrl_c_records_1_the_run_130() -> None:
    assert for_failed_step(KeyboardInterrupt()) == 1
    assert for_failed_step(errors.CheckFailedError("x")) == 6


def test_the_lowest_code_of_3_to_7_wins() -> None:
    doc = DOC.read_text("utf-8")
    assert "the lowest code of 3\u20137 wins" in doc
    assert for_run(succeeded=False, failed_step_codes=[6, 5, 7]) == 5
    assert for_run(succeeded=False, failed_step_codes=[1, 7]) == 7
    assert for_run(succeeded=False, failed_step_codes=[None]) == 1
    assert for_run(succeeded=False, failed_step_codes=[]) == 1
    assert for_run(succeeded=True, failed_step_codes=[]) == 0
    assert for_run(succeeded=True, failed_step_codes=[6]) == 6


def test_luigi_verdicts() -> None:
    def never() -> bool:
        raise AssertionError("complete() asked after a failed build")

    assert luigi_succeeded("SUCCESS", roots_complete=lambda: True)
    assert luigi_succeeded("SUCCESS_WITH_RETRY", roots_complete=lambda: True)
    assert luigi_succeeded("NOT_RUN", roots_complete=lambda: True)  # done by another worker
    assert not luigi_succeeded("NOT_RUN", roots_complete=lambda: False)
    assert not luigi_succeeded("FAILED", roots_complete=never)
    assert not luigi_succeeded("SCHEDULING_FAILED", roots_complete=never)


def test_plan_apply_and_preflight_codes_as_documented() -> None:
    doc = " ".join(DOC.read_text("utf-8").split())
    assert "`plan` exits 0 when every connection matches the file, 6 when one drifted, 4" in doc
    assert (for_plan(errors=False, drifted=False), for_plan(errors=False, drifted=True)) == (0, 6)
    assert for_plan(errors=True, drifted=True) == 4
    assert "`apply` exits 0 when done, 4 when Airbyte refused" in doc
    assert for_apply(interrupted=False, failed=False, blocked=False) == 0
    assert for_apply(interrupted=False, failed=True, blocked=True) == 4
    assert for_apply(interrupted=False, failed=False, blocked=True) == 6
    assert for_apply(interrupted=True, failed=True, blocked=False) == 130
    assert "`preflight` exits 4 on any failed check and 6 when drift is the only one" in doc
    assert (for_preflight([]), for_preflight(["drift"]), for_preflight(["drift", "airbyte"])) == (
        0,
        6,
        4,
    )
