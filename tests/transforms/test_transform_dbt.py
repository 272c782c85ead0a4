"""DbtRunner against a real two-model dbt-duckdb project (tests/transforms/dbt_project)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.transforms import DbtRunner, TransformFailedError, parse_run_results
from luigi_airbyte.transforms.dbt import describe_failures, render_log_line

PROJECT = Path(__file__).parent / "dbt_project"
SECRET = "duck-secret-4711"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy, so dbt's target/ and logs/ never land in the source tree."""
    return Path(shutil.copytree(PROJECT, tmp_path / "tiny"))


def runner(project: Path, **kw: object) -> DbtRunner:
    env = {
        "LUIGI_AIRBYTE_TEST_DUCKDB": str(project / "warehouse.duckdb"),
        "DBT_ENV_SECRET_PASSWORD": SECRET,
    }
    return DbtRunner(project, profiles_dir=project, env=env, timeout=120, **kw)  # type: ignore[arg-type]


@pytest.mark.dbt
def test_build_succeeds_with_one_record_per_node(project: Path) -> None:
    events = ListEmitter()
    result = runner(project, emitter=events).run()
    assert result.succeeded and result.kind == "dbt" and result.name == "tiny"
    assert [(r.name, r.status) for r in result.records] == [
        ("model.tiny.stg_orders", "success"),
        ("test.tiny.not_null_stg_orders_order_id.81cfe2fe64", "pass"),
        ("model.tiny.orders_by_customer", "success"),
    ]
    assert all(r.duration_s >= 0 for r in result.records)
    assert "Completed successfully" in result.log_tail  # JSON log lines rendered as text
    assert events.names() == ["transform.started", "transform.finished"]
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from orders_by_customer").fetchone() == (2,)
    con.close()


@pytest.mark.dbt
def test_failing_model_is_named_and_the_rest_is_kept(project: Path) -> None:
    with pytest.raises(TransformFailedError) as info:
        runner(project, vars={"break_orders_by_customer": True}).run()
    text = str(info.value)
    assert "dbt step 'tiny' failed: exited with code 1" in text
    assert "model.tiny.orders_by_customer (error: Runtime Error" in text
    assert "no_such_column" in text  # the database's own message, from the log tail
    assert SECRET not in text
    result = info.value.result
    assert result.exit_code == 1
    assert [r.status for r in result.records] == ["success", "pass", "error"]
    assert result.failed_records[0].name == "model.tiny.orders_by_customer"


@pytest.mark.dbt
def test_select_is_honoured(project: Path) -> None:
    result = runner(project, select="stg_orders", command="run").run()
    assert [r.name for r in result.records] == ["model.tiny.stg_orders"]


def test_dbt_arguments() -> None:
    args = DbtRunner(
        "/p",
        select=["a+", "b"],
        exclude="c",
        vars={"x": 1},
        threads=2,
        target="prod",
        full_refresh=True,
    ).dbt_args()
    assert args[:2] == ["build", "--project-dir"]
    joined = " ".join(args)
    assert "--select a+ b" in joined and "--exclude c" in joined
    assert '--vars {"x": 1}' in joined and "--threads 2" in joined
    assert "--target prod" in joined and "--full-refresh" in joined
    assert "--log-format json" in joined
    with pytest.raises(ValueError, match="unsupported dbt command"):
        DbtRunner("/p", command="clean")


def test_parse_run_results_reads_rows_failures_and_messages() -> None:
    data = {
        "results": [
            {
                "unique_id": "model.p.a",
                "status": "success",
                "execution_time": 1.25,
                "adapter_response": {"_message": "SELECT 42", "rows_affected": 42},
                "message": "OK",
            },
            {
                "unique_id": "test.p.t",
                "status": "fail",
                "execution_time": 0.1,
                "adapter_response": {},
                "message": None,
                "failures": 3,
            },
            {"unique_id": "model.p.b", "status": "skipped", "adapter_response": {}},
        ]
    }
    a, t, b = parse_run_results(data)
    assert (a.rows_affected, a.duration_s, a.message) == (42, 1.25, "OK")
    assert t.failed and t.message == "3 failing rows"
    assert b.rows_affected is None and not b.failed
    assert (
        describe_failures([a, t, b])
        == "failed: test.p.t (fail: 3 failing rows); skipped: model.p.b"
    )
    assert describe_failures([a]) is None


def test_render_log_line() -> None:
    line = '{"info": {"msg": "1 of 3 OK", "level": "info"}, "data": {}}'
    assert render_log_line("stdout", line) == "1 of 3 OK"
    assert render_log_line("stdout", '{"info": {"msg": "x", "level": "debug"}}') is None
    assert render_log_line("stderr", "Traceback ...") == "Traceback ..."
    assert render_log_line("stdout", "{not json") == "{not json"
