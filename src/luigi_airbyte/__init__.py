"""luigi-airbyte: Airbyte syncs, dbt models and Spark jobs as one fault-tolerant Luigi pipeline.

The Luigi classes are exported lazily, so ``import luigi_airbyte`` (or its client and
sandbox) does not import Luigi::

    from luigi_airbyte import AirbyteSyncTask, PipelineTask
    from luigi_airbyte.airbyte import AirbyteClient
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "AirbyteSyncTask": "luigi_airbyte.tasks",
    "PipelineTask": "luigi_airbyte.tasks",
    "CheckTask": "luigi_airbyte.tasks",
    "DbtTask": "luigi_airbyte.tasks",
    "SparkTask": "luigi_airbyte.tasks",
    "CommandTask": "luigi_airbyte.tasks",
    "run_graph": "luigi_airbyte.tasks",
    "AirbyteClient": "luigi_airbyte.airbyte",
    "SyncRunner": "luigi_airbyte.sync",
    "Sandbox": "luigi_airbyte.sandbox",
    "load_pipeline_file": "luigi_airbyte.pipeline",
    "LuigiAirbyteError": "luigi_airbyte.errors",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'luigi_airbyte' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
