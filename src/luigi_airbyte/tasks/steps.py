"""Task classes for check and transform steps, and the pipeline wrapper."""

from __future__ import annotations

from contextlib import AbstractContextManager

import luigi

from luigi_airbyte.tasks.base import StepTask, TodayDateParameter
from luigi_airbyte.tasks.context import runtime_for
from luigi_airbyte.tasks.translator import task_for_node


class CheckTask(StepTask):
    """A data check (SQL, freshness, drift, record counts); fails with exit code 6."""

    kind = "check"


class DbtTask(StepTask):
    """A dbt invocation; fails with exit code 7."""

    kind = "dbt"


class SparkTask(StepTask):
    """A spark-submit application; fails with exit code 7."""

    kind = "spark"


class CommandTask(StepTask):
    """Any command; fails with exit code 7."""

    kind = "command"


class PipelineTask(luigi.WrapperTask):
    """All steps of one pipeline for one run date: the root a run builds."""

    pipeline_file = luigi.Parameter(significant=False, description="Path of the pipeline file.")
    pipeline = luigi.Parameter(description="Pipeline name.")
    run_date = TodayDateParameter(description="The logical date of the run (default: today, UTC).")
    interval = luigi.Parameter(default="", description="Optional finer partition of run_date.")
    run_id = luigi.Parameter(default="", significant=False, description="Run record id.")

    # Luigi runs the root last, after asking each step whether it is complete, in the
    # process it runs in: a warm slot (``warm_slots``), inside one scheduling pass
    # (``process_scope``), where a fork of the grown run process asking the store once per
    # step took ~30 ms at the end of every run (10 syncs; more with more steps).
    warm_process = True

    def process_scope(self) -> AbstractContextManager[None]:
        """What a warm slot runs this task in: one scheduling pass, so the steps' answers
        come from one read of the ledger (``StepExecutor.scheduling_pass``)."""
        return runtime_for(str(self.pipeline_file)).executor().scheduling_pass()

    _found_complete = False  # set by complete(): a complete run stays complete

    def requires(self) -> list[luigi.Task]:
        """Every step's task; built once per instance (Luigi and the final check ask again)."""
        cached: list[luigi.Task] | None = getattr(self, "_steps", None)
        if cached is None:
            cached = self._steps = self._build_requires()
        return list(cached)

    def _build_requires(self) -> list[luigi.Task]:
        graph = runtime_for(str(self.pipeline_file)).graph(str(self.pipeline))
        return [
            task_for_node(
                node,
                pipeline_file=str(self.pipeline_file),
                run_date=self.run_date,
                interval=str(self.interval),
                run_id=str(self.run_id),
            )
            for node in graph.nodes
        ]

    def complete(self) -> bool:
        """All steps complete. Every step is asked (no short cut at the first incomplete
        one), so the skip notes of the whole scheduling pass are written at once, here.

        Once found complete it stays complete for this instance (the run): each step's
        answer does (a sync's is cached for the run, another step's is a success on
        record), so the run's final check does not ask 1,000 steps again."""
        if self._found_complete:
            return True
        executor = runtime_for(str(self.pipeline_file)).executor()
        with executor.scheduling_pass():
            answers = [bool(task.complete()) for task in luigi.task.flatten(self.requires())]
        self._found_complete = done = all(answers)
        return done
