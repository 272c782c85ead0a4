"""Run a Spark application with ``spark-submit`` as a pipeline step.

The JVM is the process most likely to outlive a killed worker, so the whole process
group goes on timeout or SIGTERM (see ``_process``). Spark ``conf`` values can hold
credentials (``spark.hadoop.fs.s3a.secret.key``), so they travel in a 0600 properties
file, never in ``--conf`` arguments that ``ps`` shows. The app reports what it did by
writing JSON records to the file named by ``LUIGI_AIRBYTE_RESULT_FILE``::

    [{"name": "daily_orders", "rows": 1234, "status": "success"}]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from luigi_airbyte.errors import TransformError
from luigi_airbyte.observe.events import Emitter
from luigi_airbyte.transforms._env import (
    BASE_ENV_KEYS,
    build_env,
    masking_redactor,
    secret_values,
)
from luigi_airbyte.transforms._process import ProcessOutcome
from luigi_airbyte.transforms._result import Redactor, TransformRecord, TransformResult, identity
from luigi_airbyte.transforms._step import Collected, StepSpec, run_step
from luigi_airbyte.transforms.dbt_subprocess import RESULT_FILE_ENV

# Inherited when set: where Spark, Hadoop and YARN keep their configuration.
_SPARK_INHERIT = ("SPARK_HOME", "SPARK_CONF_DIR", "HADOOP_CONF_DIR", "YARN_CONF_DIR")


def find_java_home(env: Mapping[str, str] | None = None) -> str | None:
    """``JAVA_HOME`` from ``env`` or ours, else the JDK behind ``java`` on PATH."""
    for source in (env or {}, os.environ):
        if source.get("JAVA_HOME"):
            return source["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        return None
    return str(Path(java).resolve().parents[1])


def find_spark_submit() -> str | None:
    """The ``spark-submit`` next to our interpreter (the venv's pyspark), else on PATH."""
    beside = Path(sys.executable).parent / "spark-submit"
    if beside.exists():
        return str(beside)
    return shutil.which("spark-submit")


def _escape_properties(text: str, *, key: bool) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if key:
        for ch in "=: #!":
            out = out.replace(ch, "\\" + ch)
    elif out.startswith(" "):
        out = "\\" + out
    return out


def write_properties(path: Path, conf: Mapping[str, str]) -> None:
    """Write ``conf`` as a Java properties file readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for key, value in conf.items():
            fh.write(
                f"{_escape_properties(key, key=True)}={_escape_properties(str(value), key=False)}\n"
            )


def parse_result_file(data: Any) -> tuple[TransformRecord, ...]:
    """Records from the app's JSON: ``[{name, rows, status}]`` or ``{"records": [...]}``."""
    items = data.get("records") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise ValueError("expected a JSON list of {name, rows, status} objects")
    records = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or "name" not in item:
            raise ValueError(f"record {i} is not an object with a 'name'")
        rows = item.get("rows")
        records.append(
            TransformRecord(
                name=str(item["name"]),
                status=str(item.get("status") or "success"),
                rows_affected=rows
                if isinstance(rows, int) and not isinstance(rows, bool)
                else None,
                duration_s=float(item.get("duration_s") or 0.0),
                message=str(item.get("message") or ""),
            )
        )
    return tuple(records)


class SparkRunner:
    """``spark-submit <app> <args>`` as a step; records come from the app's result file.

    ``run()`` returns a ``TransformResult`` or raises ``TransformFailedError`` (exit 7)
    with the tail of the output. Both streams, interleaved: Spark logs to stderr, but
    spark-submit merges a Python app's stderr (its traceback) into stdout.
    """

    def __init__(
        self,
        app: str | os.PathLike[str],
        *,
        args: Sequence[str] = (),
        conf: Mapping[str, str] | None = None,
        master: str = "local[1]",
        name: str | None = None,
        packages: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        spark_submit: str | os.PathLike[str] | None = None,
        py_files: Sequence[str] | None = None,
        extra_args: Sequence[str] = (),
        timeout: float | None = None,
        load_spark_defaults: bool = True,
        emitter: Emitter | None = None,
        redact: Redactor = identity,
    ) -> None:
        self.app = os.fspath(app)
        self.args = [str(a) for a in args]
        self.conf = {str(k): str(v) for k, v in (conf or {}).items()}
        self.master = master
        self.name = name or Path(self.app).stem
        self.packages = list(packages or [])
        self.env = dict(env or {})
        self.spark_submit = None if spark_submit is None else os.fspath(spark_submit)
        self.py_files = list(py_files or [])
        self.extra_args = list(extra_args)
        self.timeout = timeout
        self.load_spark_defaults = load_spark_defaults
        self.emitter = emitter
        self.redact = masking_redactor(
            [*secret_values(self.env), *secret_values(self.conf)], redact
        )

    def submit_args(self, properties_file: str | None) -> list[str]:
        """spark-submit's arguments; ``conf`` is never among them."""
        argv = [
            "--master",
            self.master,
            "--name",
            self.name,
            "--conf",
            "spark.ui.showConsoleProgress=false",
        ]
        if properties_file is not None:
            argv += ["--properties-file", properties_file]
            if self.load_spark_defaults:  # Spark >= 4.0: keep spark-defaults.conf too
                argv.append("--load-spark-defaults")
        if self.packages:
            argv += ["--packages", ",".join(self.packages)]
        if self.py_files:
            argv += ["--py-files", ",".join(self.py_files)]
        return [*argv, *self.extra_args, self.app, *self.args]

    def run(self) -> TransformResult:
        submit = self.spark_submit or find_spark_submit()
        if submit is None:
            raise TransformError(
                f"spark step {self.name!r}: spark-submit not found; install "
                "pyspark in this environment or pass spark_submit="
            )
        java_home = find_java_home(self.env)
        if java_home is None:
            raise TransformError(
                f"spark step {self.name!r}: no Java found; set JAVA_HOME "
                "(Spark 4 needs Java 17 or 21)"
            )
        with tempfile.TemporaryDirectory(prefix="luigi-airbyte-spark-") as tmp:
            props: str | None = None
            if self.conf:
                props = str(Path(tmp) / "spark.properties")
                write_properties(Path(props), self.conf)
            result_file = Path(tmp) / "result.json"
            defaults = {
                "JAVA_HOME": java_home,
                "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable,
            }
            if self.master.startswith("local"):
                defaults["SPARK_LOCAL_IP"] = "127.0.0.1"
            env = build_env(self.env, inherit=(*BASE_ENV_KEYS, *_SPARK_INHERIT), defaults=defaults)
            env[RESULT_FILE_ENV] = str(result_file)
            spec = StepSpec(
                kind="spark",
                name=self.name,
                argv=[submit, *self.submit_args(props)],
                env=env,
                timeout=self.timeout,
                fields={"app": self.app, "master": self.master},
            )

            def collect(outcome: ProcessOutcome) -> Collected:
                if not result_file.exists():
                    return Collected()
                records = parse_result_file(json.loads(result_file.read_text("utf-8")))
                failed = [r.name for r in records if r.failed]
                return Collected(records, f"failed: {', '.join(failed)}" if failed else None)

            return run_step(spec, collect=collect, emitter=self.emitter, redact=self.redact)
