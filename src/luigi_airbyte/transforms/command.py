"""Run any program as a pipeline step: minimal environment, captured output, group kill.

Secrets go in ``env`` (visible only to the child and root), never in ``argv``, which any
local user can read in ``ps`` or ``/proc/<pid>/cmdline`` (CWE-214).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from luigi_airbyte.observe.events import Emitter
from luigi_airbyte.transforms._env import build_env, masking_redactor, secret_values
from luigi_airbyte.transforms._process import ProcessOutcome
from luigi_airbyte.transforms._result import Redactor, TransformRecord, TransformResult, identity
from luigi_airbyte.transforms._step import Collected, StepSpec, run_step


class CommandRunner:
    """Run ``argv`` with ``env`` merged over a minimal base environment (PATH, HOME, LANG...).

    ``run()`` returns a ``TransformResult`` with one record for the command, or raises
    ``TransformFailedError`` (a ``TransformError``, exit 7) on a non-zero exit or timeout.
    Values of secret-looking variables in ``env`` are masked in everything we keep.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        name: str | None = None,
        emitter: Emitter | None = None,
        redact: Redactor = identity,
    ) -> None:
        if isinstance(argv, str) or not argv:
            raise ValueError("argv must be a non-empty sequence of strings (no shell string)")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        self.argv = [os.fspath(a) for a in argv]
        self.env = dict(env or {})
        self.cwd = cwd
        self.timeout = timeout
        self.name = name or Path(self.argv[0]).name
        self.emitter = emitter
        self.redact = masking_redactor(secret_values(self.env), redact)

    def run(self) -> TransformResult:
        spec = StepSpec(
            kind="command",
            name=self.name,
            argv=self.argv,
            env=build_env(self.env),
            cwd=None if self.cwd is None else os.fspath(self.cwd),
            timeout=self.timeout,
            fields={"program": Path(self.argv[0]).name},
        )
        return run_step(spec, collect=self._collect, emitter=self.emitter, redact=self.redact)

    def _collect(self, outcome: ProcessOutcome) -> Collected:
        ok = outcome.exit_code == 0 and not outcome.timed_out
        status = "timeout" if outcome.timed_out else ("success" if ok else "error")
        last = outcome.combined_tail[-1] if outcome.combined_tail else ""
        record = TransformRecord(
            name=self.name, status=status, duration_s=round(outcome.duration_s, 3), message=last
        )
        return Collected(records=(record,))
