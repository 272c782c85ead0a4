"""Where a step sits in its run's HTML report: the anchors links point at.

Its own module so that a task linking a step (Luigi's tracking URL, an alert's link) does
not import the report's renderer (``html_report``, ~8 ms) to name an anchor.
"""

from __future__ import annotations


def step_anchor(step_name: str, section: str = "step") -> str:
    """The id of a step's place in the run report: ``step-<name>`` (its row in the steps
    table), ``failure-<name>`` (its failure recap) or ``sync-<name>`` (its sync section).
    A link needs it percent-encoded: ``report.html#`` + ``urllib.parse.quote(anchor)``."""
    return f"{section}-{step_name}"


__all__ = ["step_anchor"]
