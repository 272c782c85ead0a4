"""Per-process access to the runtime (client, store, bus) from inside Luigi tasks.

Luigi forks a process per task when ``workers > 1`` and rebuilds tasks from string
parameters on remote workers, so tasks carry only a pipeline file *path* and look the
runtime up here. The runtime is cached per (path, pid): a forked child never reuses
the parent's HTTP connections or database engine, but it does inherit the run's token,
config-API probe and connection listing (``Runtime.prepare``). Secrets are never task
parameters.
"""

from __future__ import annotations

import os
import threading

from luigi_airbyte.app.runtime import Runtime

_lock = threading.Lock()
_cache: dict[tuple[str, int], Runtime] = {}
_overrides: dict[str, Runtime] = {}


def runtime_for(pipeline_file: str) -> Runtime:
    """The runtime for ``pipeline_file`` ("" = settings from luigi.cfg/env only)."""
    key = (pipeline_file, os.getpid())
    with _lock:
        rt = _cache.get(key)
        if rt is None:
            parent = _overrides.get(pipeline_file)
            if parent is None:  # a forked worker of `luigi --module`: inherit its parent's
                parent = next((r for (f, _), r in _cache.items() if f == pipeline_file), None)
            rt = parent.for_this_process() if parent is not None else Runtime.load(pipeline_file)
            _cache[key] = rt
        return rt


def install_runtime(pipeline_file: str, runtime: Runtime) -> None:
    """Make ``runtime`` (built by the CLI with its flags) the one tasks use for this file."""
    with _lock:
        _overrides[pipeline_file] = runtime
        _cache[(pipeline_file, os.getpid())] = runtime


def clear_runtimes() -> None:
    with _lock:
        for rt in _cache.values():
            rt.close()
        _cache.clear()
        _overrides.clear()
