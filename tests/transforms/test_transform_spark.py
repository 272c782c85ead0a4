"""SparkRunner: argument building and the result file, then real spark-submit runs (marked)."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.transforms import SparkRunner, TransformFailedError, parse_result_file
from luigi_airbyte.transforms.spark import find_java_home, find_spark_submit, write_properties

APPS = Path(__file__).parent / "spark_apps"
# Small and CPU-light: the machines running the tests are shared. C1-only JIT and the
# serial GC roughly halve the CPU a tiny job costs; codegen and AQE buy nothing here.
FAST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.memory": "512m",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.log.level": "WARN",
}


def test_conf_goes_to_a_private_properties_file_not_argv(tmp_path: Path) -> None:
    runner = SparkRunner(
        "app.py",
        args=["--day", "2026-05-01"],
        conf={"spark.hadoop.fs.s3a.secret.key": "s3-secret"},
        packages=["org.x:y:1.0"],
        name="daily",
    )
    argv = runner.submit_args(str(tmp_path / "p.properties"))
    assert "s3-secret" not in " ".join(argv)
    assert argv[-3:] == ["app.py", "--day", "2026-05-01"]
    assert argv[argv.index("--name") + 1] == "daily"
    assert argv[argv.index("--packages") + 1] == "org.x:y:1.0"
    assert "--load-spark-defaults" in argv
    assert "--properties-file" not in runner.submit_args(None)
    props = tmp_path / "p.properties"
    write_properties(props, {"a.b": "x=y", "k:e y": " lead\nnext"})
    assert stat.S_IMODE(props.stat().st_mode) == 0o600
    assert props.read_text() == "a.b=x=y\nk\\:e\\ y=\\ lead\\nnext\n"
    assert runner.redact("key is s3-secret") == "key is ***"


def test_parse_result_file() -> None:
    records = parse_result_file([{"name": "a", "rows": 3}, {"name": "b", "status": "failed"}])
    assert [(r.name, r.status, r.rows_affected) for r in records] == [
        ("a", "success", 3),
        ("b", "failed", None),
    ]
    assert records[1].failed
    assert parse_result_file({"records": [{"name": "c", "rows": 1}]})[0].name == "c"
    with pytest.raises(ValueError):
        parse_result_file({"name": "not a list"})
    with pytest.raises(ValueError):
        parse_result_file([{"rows": 1}])


def test_tools_are_found() -> None:
    assert find_spark_submit() is not None
    assert find_java_home({"JAVA_HOME": "/opt/jdk"}) == "/opt/jdk"
    assert find_java_home() is not None


@pytest.mark.spark
def test_spark_app_succeeds_and_reports_records(tmp_path: Path) -> None:
    source, target = tmp_path / "orders.csv", tmp_path / "out"
    source.write_text("order_id,customer,amount\n1,a,10\n2,b,20\n3,a,7\n")
    events = ListEmitter()
    result = SparkRunner(
        APPS / "aggregate.py",
        args=[str(source), str(target)],
        conf={
            **FAST_CONF,
            "spark.test.marker": "via-properties",
            "spark.test.secret.key": "pw-from-conf",
        },
        env={"WAREHOUSE_PASSWORD": "pw-from-conf"},
        timeout=180,
        emitter=events,
    ).run()
    assert result.succeeded and result.kind == "spark" and result.name == "aggregate"
    [record] = result.records
    assert (record.name, record.rows_affected, record.status) == (
        "orders_per_customer",
        2,
        "success",
    )
    assert record.message == "marker=via-properties; secret delivered: True"
    assert "pw-from-conf" not in result.log_tail
    rows = duckdb.sql(f"select customer, orders from '{target}/*.parquet' order by 1").fetchall()
    assert rows == [("a", 2), ("b", 1)]
    assert events.names() == ["transform.started", "transform.finished"]


@pytest.mark.spark
def test_spark_app_failure_raises_with_the_output_tail(tmp_path: Path) -> None:
    events = ListEmitter()
    with pytest.raises(TransformFailedError) as info:
        SparkRunner(APPS / "fail.py", conf=FAST_CONF, timeout=120, emitter=events).run()
    text = str(info.value)
    assert "spark step 'fail' failed: exited with code 1" in text
    assert "last output:" in text
    assert "RuntimeError: input partition missing" in text
    assert info.value.result.records == ()
    assert events.names() == ["transform.started", "transform.failed"]


@pytest.mark.spark
def test_spark_timeout_leaves_no_jvm_behind(tmp_path: Path) -> None:
    import shutil
    import time

    import psutil

    app = Path(shutil.copy(APPS / "sleep.py", tmp_path / "sleep_marker_app.py"))
    with pytest.raises(TransformFailedError, match="timed out after 4s"):
        SparkRunner(app, conf=FAST_CONF, timeout=4).run()

    def survivors() -> list[int]:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if str(app) in cmd and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.info["pid"])
        return found

    deadline = time.monotonic() + 5
    while survivors() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors() == []
