"""Load a pipeline file: YAML with lines -> semantic checks + model validation -> one ConfigError.

Both passes always run, so a type error in one step does not hide a cycle in another.
When both report the same field, the semantic finding (the more specific one) wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.pipeline._errors import Finding, findings_from_validation_error
from luigi_airbyte.pipeline._models import PipelineFile
from luigi_airbyte.pipeline._semantic import semantic_findings
from luigi_airbyte.pipeline._suggest import render_path
from luigi_airbyte.pipeline._yaml import YamlProblem, load_yaml


def _line_for(finding: Finding, lines: dict[str, int]) -> int | None:
    segments = finding.segments
    for cut in range(len(segments), 0, -1):
        line = lines.get(render_path(segments[:cut]))
        if line is not None:
            return line
    return None


def _problems(findings: list[Finding], source: str, lines: dict[str, int]) -> list[Problem]:
    # "unknown key 'conection'; did you mean 'connection'?" already says what "missing
    # required key 'connection'" would: report the typo once.
    renamed = {(*f.segments[:-1], f.renames_to) for f in findings if f.renames_to}
    findings = [f for f in findings if not (f.kind == "missing" and f.segments in renamed)]
    seen: set[str] = set()
    problems = []
    for f in findings:
        if f.field in seen:
            continue
        seen.add(f.field)
        problems.append(
            Problem(
                source=source, field=f.field, message=f.message, fix=f.fix, line=_line_for(f, lines)
            )
        )
    problems.sort(key=lambda p: (p.line is None, p.line or 0, p.field))
    return problems


def validate_pipeline_data(
    data: Any, *, source: str = "<data>", lines: dict[str, int] | None = None
) -> PipelineFile:
    """Validate an already-parsed mapping (every problem at once) and return the model."""
    lines = lines or {}
    if data is None:
        raise ConfigError(
            [
                Problem(
                    source=source,
                    field="(file)",
                    message="the file is empty",
                    fix="start with `version: 1` and `pipelines:` (see docs/pipeline-file.md)",
                    line=1,
                )
            ]
        )
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single {type(data).__name__} value"
        raise ConfigError(
            [
                Problem(
                    source=source,
                    field="(file)",
                    message=f"the top level must be a mapping, not {kind}",
                    fix="write `version: 1`, `owners:` and `pipelines:` as top-level keys",
                    line=1,
                )
            ]
        )
    findings = semantic_findings(data)
    model: PipelineFile | None = None
    try:
        model = PipelineFile.model_validate(data)
    except ValidationError as exc:
        findings += findings_from_validation_error(PipelineFile, data, exc)
    if findings or model is None:
        raise ConfigError(_problems(findings, source, lines))
    model._source = source
    model._lines = dict(lines)
    return model


def load_pipeline_file(path: str | os.PathLike[str]) -> PipelineFile:
    """Read, parse and validate a pipeline file; raise `ConfigError` listing every problem."""
    source = os.fspath(path)
    try:
        data, lines = load_yaml(Path(source), source)
    except YamlProblem as exc:
        raise ConfigError([exc.problem]) from None
    return validate_pipeline_data(data, source=source, lines=lines)
