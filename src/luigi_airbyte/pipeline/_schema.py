"""The pipeline file's JSON Schema, for ``luigi-airbyte schema`` and editor completion.

Editors (VS Code's YAML extension, JetBrains) read a ``# yaml-language-server:
$schema=...`` comment or a schema store mapping; the titles and descriptions come
from the models' docstrings, so the schema and the code cannot disagree. Each
setting's property also carries its effective default (``default``) and its
environment variable (``x-env-var``), from the same walk that builds the settings
table (`_settings_spec.SETTINGS`).
"""

from __future__ import annotations

from typing import Any

from luigi_airbyte.pipeline._models import PipelineFile
from luigi_airbyte.pipeline._settings_spec import SETTINGS

SCHEMA_ID = "https://luigi-airbyte.dev/schema/pipeline-v1.json"


def pipeline_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a version-1 pipeline file."""
    schema = PipelineFile.model_json_schema(by_alias=True, mode="validation")
    _annotate_settings(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "luigi-airbyte pipeline file"
    schema["description"] = (
        "Airbyte syncs, checks, dbt, Spark and commands as one Luigi pipeline. "
        "Secrets are references: env:NAME, file:/path, aws-sm:ARN#key, vault:mount/path#key."
    )
    return schema


def setting_properties(schema: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The schema properties that declare setting ``key`` (one per declaring model)."""
    spec = next(s for s in SETTINGS if s.key == key)
    found = []
    for model in spec.owners:
        node = schema if model is PipelineFile else schema["$defs"][model.__name__]
        found.append(node["properties"][spec.name])
    return found


def _annotate_settings(schema: dict[str, Any]) -> None:
    for spec in SETTINGS:
        for prop in setting_properties(schema, spec.key):
            prop["x-env-var"] = spec.env_var
            if "const" not in prop:
                prop.setdefault("description", spec.description)
            if spec.default is not None and "const" not in prop:
                prop["default"] = spec.shown_default
