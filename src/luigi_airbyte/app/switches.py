"""Operational on/off switches read from the environment, for what is on by default and
may be turned off to compare or to debug (``LUIGI_AIRBYTE_WATCHER``,
``LUIGI_AIRBYTE_WARM_SYNCS``). Not settings: nothing in a pipeline file should need them."""

from __future__ import annotations

import os

OFF = ("0", "off", "false", "no")


def switched_on(name: str) -> bool:
    """Whether the switch ``name`` is on: on unless set to 0, off, false or no."""
    return os.environ.get(name, "on").strip().lower() not in OFF


__all__ = ["OFF", "switched_on"]
