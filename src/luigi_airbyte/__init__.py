"""luigi-airbyte: Airbyte syncs, dbt models and Spark jobs as one fault-tolerant Luigi pipeline."""

from __future__ import annotations

__version__ = "0.1.0"
