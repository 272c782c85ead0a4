"""The Luigi resource that caps syncs is named per Airbyte instance (``airbyte.resource``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.tasks import AirbyteSyncTask
from luigi_airbyte.tasks.context import clear_runtimes, install_runtime

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
  {resource}
  max_concurrent_syncs: 3
owners: {{data: {{}}}}
pipelines:
  p:
    owner: data
    steps:
      - sync: s
        connection: c
"""


@pytest.mark.parametrize(("line", "expected"), [("", "airbyte"), ("resource: ab_prod", "ab_prod")])
def test_sync_tasks_use_the_instance_resource(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(resource=line))
    rt = Runtime.load(path, env={})
    install_runtime(str(path), rt)
    try:
        task = AirbyteSyncTask(
            pipeline_file=str(path),
            pipeline="p",
            step="s",
            connection="c",
            run_date=dt.date(2026, 1, 1),
        )
        assert task.resources == {expected: 1}
        assert rt.settings.max_concurrent_syncs == 3
    finally:
        clear_runtimes()


def test_a_bad_resource_name_is_a_config_error(tmp_path: Path) -> None:
    from luigi_airbyte.errors import ConfigError

    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(resource="resource: 'no spaces allowed'"))
    with pytest.raises(ConfigError) as err:
        Runtime.load(path, env={})
    assert "airbyte.resource" in str(err.value)
