"""The application: what a run does with a loaded pipeline file.

It sits between the Luigi glue (``luigi_airbyte.tasks``) and the file model
(``luigi_airbyte.pipeline``): the runtime that wires clients, store and sinks for one
process, the step executor, preflight, ad-hoc runs and credential rotation. Nothing here
imports Luigi; the CLI and the tasks call into it.
"""

from __future__ import annotations

__all__: list[str] = []
