"""The step graph of one pipeline, with the implicit checks a sync step asks for.

A sync step with ``expect:`` gets a ``<name>:drift`` check that runs *before* it: a
connection whose configuration drifted (say, switched to full-refresh overwrite) must
not load data at all. A sync step with ``counts:`` gets a ``<name>:counts`` check that
runs *after* it, and every step that depends on the sync is rewired to depend on that
check instead, so nothing downstream reads data whose counts did not reconcile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from luigi_airbyte.pipeline._models import Pipeline
from luigi_airbyte.pipeline._steps import CheckStep, Step, SyncEachStep, SyncStep
from luigi_airbyte.pipeline._types import format_duration


@dataclass(frozen=True)
class Node:
    """One task-to-be: a declared step, or an implicit check derived from a sync step."""

    name: str
    kind: str  # sync | check | dbt | spark | command
    pipeline: str
    owner: str
    after: tuple[str, ...]
    step: Step
    implicit: str = ""  # "drift" | "counts" for derived checks
    connection: str = ""  # sync nodes: name or id as written
    freshness: str = ""  # sync nodes: e.g. "6h"
    connection_id: str = ""  # sync nodes expanded from a listing: the connection's id

    @property
    def check_kind(self) -> str:
        if self.implicit:
            return self.implicit
        return self.step.check_kind if isinstance(self.step, CheckStep) else ""

    @property
    def target_sync(self) -> str:
        """For drift/counts/freshness checks: the sync step they are about."""
        if self.implicit:
            return self.step.name
        if isinstance(self.step, CheckStep):
            return self.step.target_sync or ""
        return ""


@dataclass(frozen=True)
class Graph:
    """All nodes of a pipeline, in an order where dependencies come first."""

    pipeline: str
    nodes: tuple[Node, ...]
    _index: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({n.name: n for n in self.nodes})

    def node(self, name: str) -> Node:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"pipeline {self.pipeline!r} has no step {name!r}") from None

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def downstream_of(self, name: str) -> set[str]:
        """Every node that (transitively) waits for ``name``."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for n in self.nodes:
                if current in n.after and n.name not in found:
                    found.add(n.name)
                    frontier.append(n.name)
        return found


Expander = Callable[[SyncEachStep], list[SyncStep]]


def _expanded(pipeline: Pipeline, expand: Expander | None) -> list[Step]:
    """Topological steps with each ``sync_each`` step replaced by its sync steps; a step
    after a ``sync_each`` step waits for every sync it expanded to."""
    groups: dict[str, tuple[str, ...]] = {}
    out: list[Step] = []
    for step in pipeline.topological_steps():
        if isinstance(step, SyncEachStep):
            if expand is None:
                raise ValueError(f"step {step.name!r} needs the connection listing to expand")
            members = expand(step)
            groups[step.name] = tuple(m.name for m in members)
            out.extend(_rewire(m, groups) for m in members)
        else:
            out.append(_rewire(step, groups) if groups else step)
    return out


def _rewire(step: Step, groups: dict[str, tuple[str, ...]]) -> Step:
    if not any(d in groups for d in step.after):
        return step
    after = tuple(n for d in step.after for n in groups.get(d, (d,)))
    return step.model_copy(update={"after": after})


def build_graph(pipeline: Pipeline, expand: Expander | None = None) -> Graph:
    """Expand ``pipeline`` into nodes, adding and wiring the implicit checks.

    ``expand`` turns a ``sync_each`` step into its sync steps (from the run's connection
    listing); a pipeline with such a step needs it.
    """
    steps = _expanded(pipeline, expand)
    declared = {s.name for s in pipeline.steps}
    expanded = {s.name for s in steps if s.name not in declared}
    counted = {s.name for s in steps if isinstance(s, SyncStep) and s.counts is not None}

    def upstream(name: str, consumer: str) -> str:
        # Consumers of a counted sync wait for its counts check, except the check itself.
        counts_node = f"{name}:counts"
        return counts_node if name in counted and consumer != counts_node else name

    nodes: list[Node] = []
    for step in steps:
        owner = pipeline.owner_of(step)
        deps = tuple(upstream(d, step.name) for d in step.depends_on)
        if isinstance(step, SyncStep):
            if step.expect is not None:
                drift = f"{step.name}:drift"
                nodes.append(
                    Node(drift, "check", pipeline.name, owner, deps, step, implicit="drift")
                )
                deps = (*deps, drift)
            nodes.append(
                Node(
                    step.name,
                    "sync",
                    pipeline.name,
                    owner,
                    deps,
                    step,
                    connection=step.connection,
                    freshness=format_duration(step.freshness) if step.freshness else "",
                    connection_id=step.connection if step.name in expanded else "",
                )
            )
            if step.counts is not None:
                nodes.append(
                    Node(
                        f"{step.name}:counts",
                        "check",
                        pipeline.name,
                        owner,
                        (step.name,),
                        step,
                        implicit="counts",
                    )
                )
        else:
            nodes.append(Node(step.name, step.kind, pipeline.name, owner, deps, step))
    return Graph(pipeline=pipeline.name, nodes=tuple(nodes))
