"""Valid files load into typed models; the model API the translator relies on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from luigi_airbyte.errors import ConfigError
from luigi_airbyte.pipeline import (
    CheckStep,
    ClientCredentialsAuth,
    CommandStep,
    DbtStep,
    PipelineFile,
    SparkStep,
    SyncStep,
    Tolerance,
    load_pipeline_file,
    validate_pipeline_data,
)
from luigi_airbyte.secrets import SecretRef

VALID = Path(__file__).parent / "valid"


@pytest.fixture(scope="module")
def full() -> PipelineFile:
    return load_pipeline_file(VALID / "full.yaml")


@pytest.mark.parametrize("path", sorted(VALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_files_load(path: Path) -> None:
    pf = load_pipeline_file(path)
    assert pf.pipelines
    for pipeline in pf.pipelines.values():
        assert [s.name for s in pipeline.topological_steps()]


def test_step_classes_and_names(full: PipelineFile) -> None:
    nightly = full.pipeline("nightly")
    kinds = [(type(s), s.name) for s in nightly.steps]
    assert kinds == [
        (SyncStep, "crm"),
        (SyncStep, "billing"),
        (CheckStep, "crm_counts"),
        (CheckStep, "crm_fresh"),
        (CheckStep, "crm_drift"),
        (DbtStep, "models"),
        (SparkStep, "agg"),
        (CommandStep, "report"),
    ]
    assert full.pipeline("hourly").steps[1].name == "dbt"  # default name = kind


def test_typed_values(full: PipelineFile) -> None:
    crm = full.pipeline("nightly").step("crm")
    assert isinstance(crm, SyncStep)
    assert crm.connection == "Postgres CRM → Warehouse"
    assert crm.freshness == timedelta(hours=6)
    assert crm.expect is not None
    users = crm.expect.streams["users"]
    assert users.sync_mode == "incremental_deduped_history"
    assert users.cursor == ("updated_at",) and users.primary_key == (("id",),)
    assert crm.counts is not None and crm.counts.tolerance == Tolerance(rows=0)
    billing = full.pipeline("nightly").step("billing")
    assert isinstance(billing, SyncStep) and billing.counts is not None
    assert billing.counts.tolerance == Tolerance(percent=1.0)
    assert billing.counts.tolerance.allows(1000, 990) and not billing.counts.tolerance.allows(
        1000, 980
    )
    auth = full.airbyte.auth
    assert isinstance(auth, ClientCredentialsAuth)
    assert auth.client_secret == SecretRef("file", "/run/secrets/airbyte")
    assert auth.client_id == SecretRef("env", "AIRBYTE_CLIENT_ID")
    assert full.airbyte.timeout == timedelta(hours=6)
    agg = full.pipeline("nightly").step("agg")
    assert isinstance(agg, SparkStep)
    assert agg.spark.conf["spark.sql.shuffle.partitions"] == "4"
    report = full.pipeline("nightly").step("report")
    assert isinstance(report, CommandStep)
    assert report.command.env == {
        "REPORT_TOKEN": SecretRef("env", "REPORT_TOKEN"),
        "REGION": "eu-west-1",
    }


def test_check_steps_depend_on_their_sync(full: PipelineFile) -> None:
    nightly = full.pipeline("nightly")
    fresh = nightly.step("crm_fresh")
    assert isinstance(fresh, CheckStep)
    assert fresh.check_kind == "freshness" and fresh.target_sync == "crm"
    assert fresh.depends_on == ("crm",)
    order = [s.name for s in nightly.topological_steps()]
    for step in nightly.steps:
        for dep in step.depends_on:
            assert order.index(dep) < order.index(step.name)


def test_owner_of_falls_back_to_pipeline(full: PipelineFile) -> None:
    nightly = full.pipeline("nightly")
    assert nightly.owner_of(nightly.step("models")) == "analytics"
    assert nightly.owner_of(nightly.step("crm")) == "data-platform"
    assert nightly.name == "nightly"


def test_lines_and_paths(full: PipelineFile) -> None:
    text = (VALID / "full.yaml").read_text().splitlines()
    line = full.line_of("airbyte.timeout")
    assert line is not None and text[line - 1].strip() == "timeout: 6h"
    assert full.base_dir == VALID.resolve()
    assert full.resolve_path("dbt") == VALID.resolve() / "dbt"
    assert full.source == str(VALID / "full.yaml")


def test_pipeline_selection(full: PipelineFile) -> None:
    with pytest.raises(ConfigError, match="the file has 2 pipelines: nightly, hourly") as info:
        full.pipeline()
    assert info.value.problems[0].fix
    with pytest.raises(ConfigError, match="did you mean 'nightly'"):
        full.pipeline("nighty")
    single = load_pipeline_file(VALID / "minimal.yaml")
    assert single.pipeline().name == "nightly"


def test_models_are_frozen(full: PipelineFile) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        full.pipeline("nightly").owner = "someone"  # type: ignore[misc]


def test_validate_pipeline_data_from_a_mapping() -> None:
    pf = validate_pipeline_data(
        {
            "version": 1,
            "owners": {"ops": {}},
            "pipelines": {"p": {"owner": "ops", "steps": [{"sync": "a", "connection": "A"}]}},
        }
    )
    assert pf.pipeline().step("a").name == "a"
    with pytest.raises(ConfigError) as info:
        validate_pipeline_data(
            {"version": 1, "pipelines": {"p": {"owner": "ops", "steps": []}}}, source="x"
        )
    assert {p.source for p in info.value.problems} == {"x"}


THREE_PROBLEMS = """\
version: 1
owners:
  data-platform: {}
pipelines:
  nightly:
    owner: data-platform
    steps:
      - sync: crm
        connection: CRM
        freshness: soon
      - dbt: {project_dir: dbt}
        after: [crn]
      - command: {argv: [python, x.py], env: {API_TOKEN: abc123}}
"""


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(THREE_PROBLEMS)
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(path)
    problems = info.value.problems
    assert [(p.line, p.field) for p in problems] == [
        (10, "pipelines.nightly.steps[0].freshness"),
        (12, "pipelines.nightly.steps[1].after[0]"),
        (13, "pipelines.nightly.steps[2].command.env.API_TOKEN"),
    ]
    assert str(info.value).startswith("3 configuration problems:")
    assert "abc123" not in str(info.value)


CANARY = "CANARY-7d1f0c2e-secret"


def test_canary_never_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        f"""\
version: 1
airbyte:
  url: https://user:{CANARY}@api.airbyte.com/v1
  auth: {{type: basic, username: me, password: {CANARY}}}
  max_concurrent_syncs: {CANARY}
warehouses:
  main: {{url: "postgresql://u:{CANARY}@h/db", password: {CANARY}}}
owners:
  ops: {{alerts: ["webhook:https://hooks.example/x?token={CANARY}"]}}
pipelines:
  p:
    owner: ops
    steps:
      - command:
          argv: [run, --password, {CANARY}, "--api-key={CANARY}"]
          env: {{DB_PASSWORD: {CANARY}, SECRET: [{CANARY}]}}
      - spark: {{app: a.py, conf: {{spark.secret.key: {CANARY}}}}}
        name: s
        retries: {CANARY}
"""
    )
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(path)
    assert len(info.value.problems) >= 8
    assert CANARY not in str(info.value)
    assert all(CANARY not in repr(p) for p in info.value.problems)


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "pipeline-file.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "pipeline.yaml"
    path.write_text(example, encoding="utf-8")
    pf = load_pipeline_file(path)
    assert [s.name for s in pf.pipeline().topological_steps()] == [
        "crm",
        "no_null_ids",
        "models",
        "agg",
        "report",
    ]


def test_queue_timeout_and_on_lost_records_are_validated_fields() -> None:
    def data(sync: dict[str, object]) -> dict[str, object]:
        return {
            "version": 1,
            "owners": {"ops": {}},
            "airbyte": {"queue_timeout": "12h"},
            "warehouses": {"main": {"url": "duckdb:///w.duckdb"}},
            "pipelines": {
                "p": {"owner": "ops", "steps": [{"sync": "a", "connection": "A", **sync}]}
            },
        }

    pf = validate_pipeline_data(
        data({"queue_timeout": "2h", "counts": {"on_lost_records": "warn"}})
    )
    step = pf.pipeline().step("a")
    assert isinstance(step, SyncStep) and step.counts is not None
    assert step.queue_timeout == timedelta(hours=2)
    assert step.counts.on_lost_records == "warn"
    assert pf.airbyte.queue_timeout == timedelta(hours=12)
    assert (
        validate_pipeline_data(data({"counts": {}})).pipeline().step("a").counts.on_lost_records
        == "fail"
    )  # type: ignore[union-attr]

    with pytest.raises(ConfigError) as info:
        validate_pipeline_data(
            data({"queue_timeout": "soon", "counts": {"on_lost_records": "ignore"}}), source="x"
        )
    fields = {p.field for p in info.value.problems}
    assert fields == {
        "pipelines.p.steps[0].queue_timeout",
        "pipelines.p.steps[0].counts.on_lost_records",
    }
