"""How exit codes are chosen: the one home. The contract with CI, in docs/exit-codes.md.

Every exit code the library or the CLI produces comes from a function here:

- ``for_error``: an exception → its code. Each error class in ``errors.py`` declares its
  category as ``exit_code = ExitCode.<NAME>``; Ctrl-C is 130; anything else is 1.
- ``for_failed_step``, ``for_step``: the code a failed step records, and reads back (1
  when none was recorded).
- ``for_run``: a pipeline run → 0, else the lowest 3-7 among its failed steps, else 1.
- ``luigi_succeeded``: whether Luigi's own verdict (a ``LuigiStatusCode`` name) counts as
  success, which Luigi's ``build()`` and its binary get wrong for CI.
- ``for_preflight``, ``for_plan``, ``for_apply``: the commands that are not runs.

``tests/test_exit_codes.py`` checks that docs/exit-codes.md's table lists exactly these
codes with these meanings. This module sits below every package (beside ``errors.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success, also success after retries
    UNEXPECTED = 1  # a bug or an unexpected environment failure
    USAGE = 2  # bad command line (click's own code)
    CONFIG = 3  # invalid configuration or pipeline file; nothing was contacted
    AIRBYTE = 4  # Airbyte, preflight or metadata store failure
    SYNC = 5  # a sync failed, was cancelled or timed out, or broke an outcome rule
    CHECK = 6  # a check failed: drift, counts, freshness SLA, SQL
    TRANSFORM = 7  # dbt, Spark or a command failed
    INTERRUPTED = 130  # Ctrl-C; Airbyte jobs are detached (or cancelled) per on_interrupt


# The "meaning" column of docs/exit-codes.md, word for word (tests/test_exit_codes.py).
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success, also success after Luigi retries",
    ExitCode.UNEXPECTED: "unexpected error",
    ExitCode.USAGE: "usage",
    ExitCode.CONFIG: "invalid configuration or pipeline file",
    ExitCode.AIRBYTE: "Airbyte, preflight or metadata store failure",
    ExitCode.SYNC: "a sync failed, was cancelled, timed out, or broke an outcome rule",
    ExitCode.CHECK: "a check failed",
    ExitCode.TRANSFORM: "a transform failed",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}

# The codes a failed step can explain a run with; the lowest wins (a failed sync, 5,
# explains a run better than the check, 6, that ran beside it).
_STEP_SPECIFIC = range(ExitCode.CONFIG, ExitCode.TRANSFORM + 1)

# Luigi's verdicts that mean every task ran to success (``LuigiStatusCode`` names).
LUIGI_OK = frozenset({"SUCCESS", "SUCCESS_WITH_RETRY"})


def for_error(
    exc: BaseException, *, interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt,)
) -> int:
    """An exception's code: its class's ``ExitCode`` (``errors.py``), 130 for Ctrl-C (and
    for the other ``interrupts`` a caller stops on, e.g. SIGTERM's ``Terminated``), else 1."""
    if isinstance(exc, interrupts):
        return int(ExitCode.INTERRUPTED)
    code = getattr(exc, "exit_code", None)
    return int(code) if isinstance(code, ExitCode) else int(ExitCode.UNEXPECTED)


def for_failed_step(exc: BaseException) -> int:
    """The code recorded for a step that raised ``exc``: its error's code, else 1 (Ctrl-C
    too: the step did not fail, the run was stopped, and the run's own code is 130)."""
    return for_error(exc) if isinstance(exc, Exception) else int(ExitCode.UNEXPECTED)


def for_step(code: int | None) -> int:
    """A failed step's code as recorded (``steps.exit_code``); 1 when none was."""
    return code or int(ExitCode.UNEXPECTED)


def for_run(*, succeeded: bool, failed_step_codes: Iterable[int | None]) -> int:
    """0 when Luigi succeeded and no step failed; else the lowest 3-7 among failed steps;
    else 1."""
    codes = [for_step(c) for c in failed_step_codes]
    if succeeded and not codes:
        return int(ExitCode.OK)
    specific = [c for c in codes if c in _STEP_SPECIFIC]
    return min(specific) if specific else int(ExitCode.UNEXPECTED)


def luigi_succeeded(status: str, *, roots_complete: Callable[[], bool]) -> bool:
    """Whether a Luigi build counts as success: SUCCESS or SUCCESS_WITH_RETRY (which
    ``luigi.build`` reports as False), or NOT_RUN; and in each case every root complete
    (asked only then: ``complete()`` may ask Airbyte).

    NOT_RUN also means "another worker finished a task this one had scheduled" (two runs
    of one pipeline and date on luigid): Luigi counts a task as not run unless it saw the
    other worker *running* it. When every root is complete, the work is done, once.
    """
    return (status in LUIGI_OK or status == "NOT_RUN") and roots_complete()


def for_preflight(failed_kinds: Iterable[str]) -> int:
    """0 when every check passed, 6 when drift is the only failure, 4 otherwise."""
    kinds = list(failed_kinds)
    if not kinds:
        return int(ExitCode.OK)
    return int(ExitCode.CHECK if all(k == "drift" for k in kinds) else ExitCode.AIRBYTE)


def for_plan(*, errors: bool, drifted: bool) -> int:
    """``plan``: 0 in sync, 6 drifted, 4 when Airbyte could not be asked."""
    if errors:
        return int(ExitCode.AIRBYTE)
    return int(ExitCode.CHECK if drifted else ExitCode.OK)


def for_apply(*, interrupted: bool, failed: bool, blocked: bool) -> int:
    """``apply``: 0 applied, 4 Airbyte refused or could not be asked, 6 blockers remain,
    130 interrupted."""
    if interrupted:
        return int(ExitCode.INTERRUPTED)
    if failed:
        return int(ExitCode.AIRBYTE)
    return int(ExitCode.CHECK if blocked else ExitCode.OK)


__all__ = [
    "LUIGI_OK",
    "MEANINGS",
    "ExitCode",
    "for_apply",
    "for_error",
    "for_failed_step",
    "for_plan",
    "for_preflight",
    "for_run",
    "for_step",
    "luigi_succeeded",
]
