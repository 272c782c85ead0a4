"""The demo world with a real connector: the CRM source becomes ``source-faker``.

``luigi-airbyte quickstart --connector source-faker`` tells the same story as the built-in
demo (users and their orders, a model, a report) on data that a real Airbyte connector
produced: faker's ``users``, ``purchases`` and ``products`` land as ``crm_*`` tables.
"""

from __future__ import annotations

import copy
from typing import Any

from luigi_airbyte.sandbox.world import demo_world_data

#: connector name -> the requirement its environment is built from
CONNECTORS = {"source-faker": "airbyte-source-faker==7.2.1"}

FAKER_CONFIG = {
    "count": 200,
    "seed": 1,
    "records_per_slice": 100,
    "always_updated": False,
    "parallelism": 1,
}

#: the quickstart model on faker's tables: revenue is the price of each purchased product
FAKER_MODEL_SQL = """\
select u.id as user_id, u.name, count(p.id) as orders, coalesce(sum(pr.price), 0) as revenue
from crm_users u
left join crm_purchases p on p.user_id = u.id
left join crm_products pr on pr.id = p.product_id
group by u.id, u.name
"""


def connector_demo_world_data(connector: str) -> dict[str, Any]:
    """The demo world whose "Postgres CRM" source is the real ``connector``."""
    if connector not in CONNECTORS:
        raise ValueError(f"no demo for connector {connector!r} (one of {sorted(CONNECTORS)})")
    data = copy.deepcopy(demo_world_data())
    for src in data["sources"]:
        if src["name"] == "Postgres CRM":
            src.clear()
            src.update(
                {
                    "name": "Postgres CRM",
                    "type": "airbyte",
                    "connector": connector,
                    "pip": CONNECTORS[connector],
                    "config": dict(FAKER_CONFIG),
                }
            )
    for conn in data["connections"]:
        if conn["source"] == "Postgres CRM":
            conn["streams"] = [
                {"name": "users", "sync_mode": "incremental_deduped_history"},
                {"name": "purchases", "sync_mode": "incremental_append"},
                {"name": "products", "sync_mode": "full_refresh_overwrite"},
            ]
    return data
