"""Transform steps (dbt, Spark, command): build the runner from the pipeline file and run it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from luigi_airbyte.errors import TransformError
from luigi_airbyte.pipeline._steps import CommandStep, DbtStep, SparkStep
from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.transforms import CommandRunner, DbtRunner, SparkRunner, TransformResult

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime


def run_transform(rt: Runtime, node: Node, emitter: Any) -> TransformResult:
    """Run ``node``'s tool with secrets resolved into its environment, never its argv."""
    pf = rt.pipeline_file
    assert pf is not None
    step = node.step
    redact = rt.redact
    if isinstance(step, DbtStep):
        cfg = step.dbt
        return DbtRunner(
            pf.resolve_path(cfg.project_dir),
            profiles_dir=pf.resolve_path(cfg.profiles_dir) if cfg.profiles_dir else None,
            target=cfg.target,
            command=cfg.command,
            select=cfg.select,
            exclude=cfg.exclude,
            vars=cfg.vars or None,
            env=rt.resolve_env(cfg.env),
            threads=cfg.threads,
            full_refresh=cfg.full_refresh,
            name=node.name,
            emitter=emitter,
            redact=redact,
        ).run()
    if isinstance(step, SparkStep):
        sc = step.spark
        return SparkRunner(
            pf.resolve_path(sc.app),
            args=sc.args,
            conf=dict(sc.conf),
            master=sc.master or "local[1]",
            name=node.name,
            packages=list(sc.packages) or None,
            env=rt.resolve_env(sc.env),
            py_files=[str(pf.resolve_path(p)) for p in sc.py_files] or None,
            timeout=sc.timeout.total_seconds() if sc.timeout else None,
            emitter=emitter,
            redact=redact,
        ).run()
    if isinstance(step, CommandStep):
        cc = step.command
        return CommandRunner(
            cc.argv,
            env=rt.resolve_env(cc.env),
            cwd=pf.resolve_path(cc.cwd) if cc.cwd else pf.base_dir,
            timeout=cc.timeout.total_seconds() if cc.timeout else None,
            name=node.name,
            emitter=emitter,
            redact=redact,
        ).run()
    raise TransformError(f"step {node.name!r} of kind {node.kind!r} is not a transform")
