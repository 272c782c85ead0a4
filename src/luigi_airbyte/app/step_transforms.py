"""Transform steps (dbt, Spark, command): build the runner from the pipeline file and run it.

Each kind has a builder that binds the step's own settings to its runner; ``run_transform``
adds what every runner takes (the resolved environment, the step's name, the emitter and
the redactor) and runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from luigi_airbyte.errors import TransformError
from luigi_airbyte.pipeline._steps import CommandStep, DbtStep, SparkStep
from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.transforms import CommandRunner, DbtRunner, SparkRunner, TransformResult

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.pipeline import PipelineFile
    from luigi_airbyte.secrets import SecretRef


class _Runner(Protocol):
    def run(self) -> TransformResult: ...


#: A runner with the step's settings bound, and the step's environment (still references).
_Bound = tuple[Callable[..., _Runner], Mapping[str, "SecretRef | str"]]


def _dbt(step: DbtStep, pf: PipelineFile) -> _Bound:
    cfg = step.dbt
    runner = partial(
        DbtRunner,
        pf.resolve_path(cfg.project_dir),
        profiles_dir=pf.resolve_path(cfg.profiles_dir) if cfg.profiles_dir else None,
        target=cfg.target,
        command=cfg.command,
        select=cfg.select,
        exclude=cfg.exclude,
        vars=cfg.vars or None,
        threads=cfg.threads,
        full_refresh=cfg.full_refresh,
    )
    return runner, cfg.env


def _spark(step: SparkStep, pf: PipelineFile) -> _Bound:
    sc = step.spark
    runner = partial(
        SparkRunner,
        pf.resolve_path(sc.app),
        args=sc.args,
        conf=dict(sc.conf),
        master=sc.master or "local[1]",
        packages=list(sc.packages) or None,
        py_files=[str(pf.resolve_path(p)) for p in sc.py_files] or None,
        timeout=sc.timeout.total_seconds() if sc.timeout else None,
    )
    return runner, sc.env


def _command(step: CommandStep, pf: PipelineFile) -> _Bound:
    cc = step.command
    runner = partial(
        CommandRunner,
        cc.argv,
        cwd=pf.resolve_path(cc.cwd) if cc.cwd else pf.base_dir,
        timeout=cc.timeout.total_seconds() if cc.timeout else None,
    )
    return runner, cc.env


_BUILDERS: dict[type[Any], Callable[[Any, PipelineFile], _Bound]] = {
    DbtStep: _dbt,
    SparkStep: _spark,
    CommandStep: _command,
}


def run_transform(rt: Runtime, node: Node, emitter: Any) -> TransformResult:
    """Run ``node``'s tool with secrets resolved into its environment, never its argv."""
    pf = rt.pipeline_file
    assert pf is not None
    build = _BUILDERS.get(type(node.step))
    if build is None:
        raise TransformError(f"step {node.name!r} of kind {node.kind!r} is not a transform")
    runner, env = build(node.step, pf)
    return runner(env=rt.resolve_env(env), name=node.name, emitter=emitter, redact=rt.redact).run()
