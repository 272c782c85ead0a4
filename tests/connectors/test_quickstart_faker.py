"""``luigi-airbyte quickstart --connector source-faker``: the demo story on faker data."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from luigi_airbyte.cli.app import cli
from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv

# the first test on a fresh machine builds the connector environment (minutes)
pytestmark = [pytest.mark.connectors, pytest.mark.timeout(900)]


def test_quickstart_with_faker_runs_the_demo_on_connector_data(
    faker_env: ConnectorEnv, tmp_path: Path
) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["quickstart", "--connector", "source-faker", str(target)], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    assert "Airbyte jobs created across both runs: 2" in result.output
    world = (target / "world.yaml").read_text()
    assert "connector: source-faker" in world and "pip: airbyte-source-faker==7.2.1" in world
    report = (target / "report.md").read_text()
    assert "| customer | orders | revenue |" in report
    import duckdb

    con = duckdb.connect(str(target / "warehouse.duckdb"), read_only=True)
    try:
        # faker's own tables and columns, not the generator's
        assert con.execute("select count(*) from crm_users").fetchone() == (200,)
        cols = {r[0] for r in con.execute("describe crm_users").fetchall()}
        assert {"academic_degree", "blood_type", "_airbyte_raw_id"} <= cols
        assert con.execute("select count(*) from user_revenue").fetchone() == (200,)
    finally:
        con.close()
