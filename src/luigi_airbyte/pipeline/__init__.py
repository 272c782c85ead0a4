"""The pipeline file: models, loading with line numbers, validation, and settings precedence.

`load_pipeline_file` reads YAML, checks everything at once and raises one
`ConfigError` whose problems each carry file:line, field path, message and fix.
`resolve_settings` merges CLI > env > pipeline file > luigi.cfg > defaults with the
source of every value. Nothing here imports luigi or talks to Airbyte.
"""

from __future__ import annotations

from luigi_airbyte.pipeline._loader import load_pipeline_file, validate_pipeline_data
from luigi_airbyte.pipeline._models import (
    AirbyteSection,
    Auth,
    BasicAuth,
    BearerAuth,
    ClientCredentialsAuth,
    NoAuth,
    OidcAuth,
    Owner,
    Pipeline,
    PipelineFile,
    PollSection,
    StoreSection,
    Warehouse,
)
from luigi_airbyte.pipeline._schema import pipeline_json_schema
from luigi_airbyte.pipeline._steps import (
    STEP_KINDS,
    AnyStep,
    CheckStep,
    CommandConfig,
    CommandStep,
    Counts,
    CountsCheck,
    DbtConfig,
    DbtStep,
    DriftCheck,
    Expect,
    FreshnessCheck,
    ScheduleExpect,
    SparkConfig,
    SparkStep,
    SqlCheck,
    Step,
    StreamExpect,
    SyncStep,
)
from luigi_airbyte.pipeline._types import Tolerance, format_duration, parse_duration
from luigi_airbyte.pipeline.settings import (
    SETTINGS,
    ResolvedSettings,
    SettingSpec,
    SettingValue,
    luigi_config_paths,
    resolve_settings,
)

__all__ = [
    "SETTINGS",
    "STEP_KINDS",
    "AirbyteSection",
    "AnyStep",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "CheckStep",
    "ClientCredentialsAuth",
    "CommandConfig",
    "CommandStep",
    "Counts",
    "CountsCheck",
    "DbtConfig",
    "DbtStep",
    "DriftCheck",
    "Expect",
    "FreshnessCheck",
    "NoAuth",
    "OidcAuth",
    "Owner",
    "Pipeline",
    "PipelineFile",
    "PollSection",
    "ResolvedSettings",
    "SettingSpec",
    "SettingValue",
    "SparkConfig",
    "SparkStep",
    "SqlCheck",
    "Step",
    "StoreSection",
    "ScheduleExpect",
    "StreamExpect",
    "SyncStep",
    "Tolerance",
    "Warehouse",
    "format_duration",
    "load_pipeline_file",
    "luigi_config_paths",
    "parse_duration",
    "pipeline_json_schema",
    "resolve_settings",
    "validate_pipeline_data",
]
