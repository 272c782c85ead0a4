"""The lifecycle every runner shares: events, process, result, and the one error message shape.

Runners only say how to build the command line and how to read their results; what
"failed" means, what the error says and which events go out is decided here, once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from luigi_airbyte.errors import TransformError
from luigi_airbyte.observe.events import Emitter, Event, NullEmitter
from luigi_airbyte.transforms._process import (
    LineHandler,
    ProcessOutcome,
    Terminated,
    run_process,
)
from luigi_airbyte.transforms._result import (
    Redactor,
    TransformFailedError,
    TransformRecord,
    TransformResult,
)

ERROR_TAIL_LINES = 20


@dataclass(frozen=True)
class Collected:
    """What a runner read from its outputs. ``problem`` fails the step even on exit 0."""

    records: tuple[TransformRecord, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class StepSpec:
    kind: str
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str | Path | None = None
    timeout: float | None = None
    on_line: LineHandler | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # extra event fields, no secrets


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _reason(spec: StepSpec, outcome: ProcessOutcome, problem: str | None) -> str:
    if outcome.timed_out:
        return f"timed out after {spec.timeout:g}s; its process group was killed"
    code = outcome.exit_code
    if code is not None and code < 0:
        try:
            head = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            head = f"was killed by signal {-code}"
    elif code:
        head = f"exited with code {code}"
    else:
        head = ""
    if head and problem:
        return f"{head}: {problem}"
    return head or problem or "failed"


def _error_message(spec: StepSpec, reason: str, outcome: ProcessOutcome) -> str:
    lines = outcome.combined_tail[-ERROR_TAIL_LINES:]
    text = f"{spec.kind} step {spec.name!r} failed: {reason}"
    if lines:
        text += "\nlast output:\n" + "\n".join(f"  {x}" for x in lines)
    return text


def _launch(
    spec: StepSpec, sink: Emitter, base: dict[str, object], redact: Redactor
) -> ProcessOutcome:
    """Run the step's process; a stop, an interrupt or a failed start is ``transform.failed``."""
    try:
        return run_process(
            spec.argv, env=spec.env, cwd=spec.cwd, timeout=spec.timeout, on_line=spec.on_line
        )
    except Terminated as stop:
        sink.emit(Event("transform.failed", {**base, "error": str(stop)}, level="error"))
        stop.redeliver()  # with the previous handler back: by default the process ends here
        raise TransformError(f"{spec.kind} step {spec.name!r} was {stop}") from None
    except KeyboardInterrupt:
        sink.emit(Event("transform.failed", {**base, "error": "interrupted"}, level="error"))
        raise
    except OSError as exc:
        error = redact(
            f"{spec.kind} step {spec.name!r} could not start {spec.argv[0]!r}: "
            f"{exc.strerror or exc}"
        )
        sink.emit(Event("transform.failed", {**base, "error": error}, level="error"))
        raise TransformError(error) from None


def run_step(
    spec: StepSpec,
    *,
    collect: Callable[[ProcessOutcome], Collected],
    emitter: Emitter | None,
    redact: Redactor,
) -> TransformResult:
    """Run the step, emit ``transform.*`` events, and raise ``TransformFailedError`` on failure."""
    sink: Emitter = emitter or NullEmitter()
    base = {"kind": spec.kind, "name": spec.name, **spec.fields}
    started_at = _utcnow()
    sink.emit(Event("transform.started", base))
    outcome = _launch(spec, sink, base, redact)
    try:
        collected = collect(outcome)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable results: a failure
        collected = Collected(problem=f"could not read the step's results: {exc}")
    records = tuple(replace(r, message=redact(r.message)) for r in collected.records)
    problem = collected.problem
    if problem is None and outcome.exit_code == 0 and any(r.failed for r in records):
        problem = "failed: " + ", ".join(r.name for r in records if r.failed)
    succeeded = not outcome.timed_out and outcome.exit_code == 0 and problem is None
    finished_at = _utcnow()
    result = TransformResult(
        kind=spec.kind,
        name=spec.name,
        succeeded=succeeded,
        started_at=started_at,
        finished_at=finished_at,
        duration_s=round((finished_at - started_at).total_seconds(), 3),
        records=records,
        log_tail=redact("\n".join(outcome.combined_tail)),
        exit_code=outcome.exit_code,
    )
    summary = {
        **base,
        "duration_s": result.duration_s,
        "exit_code": outcome.exit_code,
        "records": len(records),
        "rows_affected": result.rows_affected,
    }
    if succeeded:
        sink.emit(Event("transform.finished", summary))
        return result
    reason = redact(_reason(spec, outcome, problem))
    sink.emit(Event("transform.failed", {**summary, "error": reason}, level="error"))
    raise TransformFailedError(redact(_error_message(spec, reason, outcome)), result)
