"""The top-level package: lazy exports, and importing it does not import Luigi."""

from __future__ import annotations

import subprocess
import sys

import luigi_airbyte


def test_every_lazy_export_resolves() -> None:
    for name in luigi_airbyte.__all__:
        assert getattr(luigi_airbyte, name) is not None


def test_airbyte_sync_task_is_the_luigi_task() -> None:
    import luigi

    from luigi_airbyte import AirbyteSyncTask

    assert issubclass(AirbyteSyncTask, luigi.Task)


def test_importing_the_package_does_not_import_luigi() -> None:
    code = "import sys, luigi_airbyte, luigi_airbyte.airbyte; print('luigi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
