"""The pipeline file's JSON Schema, for ``luigi-airbyte schema`` and editor completion.

Editors (VS Code's YAML extension, JetBrains) read a ``# yaml-language-server:
$schema=...`` comment or a schema store mapping; the titles and descriptions come
from the models' docstrings, so the schema and the code cannot disagree.
"""

from __future__ import annotations

from typing import Any

from luigi_airbyte.pipeline._models import PipelineFile

SCHEMA_ID = "https://luigi-airbyte.dev/schema/pipeline-v1.json"


def pipeline_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a version-1 pipeline file."""
    schema = PipelineFile.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "luigi-airbyte pipeline file"
    schema["description"] = (
        "Airbyte syncs, checks, dbt, Spark and commands as one Luigi pipeline. "
        "Secrets are references: env:NAME, file:/path, aws-sm:ARN#key, vault:mount/path#key."
    )
    return schema
