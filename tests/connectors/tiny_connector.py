"""A tiny connector speaking the Airbyte protocol, for the fast tests (no virtualenv needed).

One stream ``items`` (id, api_key, updated_at; cursor updated_at); config: ``api_key``
(required), ``rows`` (int), ``behaviour``: ok | trace_error | garbage | hang, ``drop_columns``
(columns the catalog and the records leave out: a config that changes the catalog).
"""

from __future__ import annotations

import json
import sys
import time


def out(msg: dict) -> None:
    print(json.dumps(msg), flush=True)


def arg(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


SPEC = {
    "type": "object",
    "required": ["api_key"],
    "properties": {
        "api_key": {"type": "string", "airbyte_secret": True},
        "rows": {"type": "integer", "minimum": 0},
        "behaviour": {"type": "string", "enum": ["ok", "trace_error", "garbage", "hang"]},
        "drop_columns": {"type": "array", "items": {"type": "string"}},
    },
}
STREAM = {
    "name": "items",
    "json_schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "api_key": {"type": ["null", "string"]},
            "updated_at": {"type": "integer"},
        },
    },
    "supported_sync_modes": ["full_refresh", "incremental"],
    "source_defined_cursor": False,  # the connection picks the cursor (updated_at)
    "default_cursor_field": ["updated_at"],
    "source_defined_primary_key": [["id"]],
}
command = sys.argv[1]
if command == "spec":
    out({"type": "SPEC", "spec": {"connectionSpecification": SPEC}})
    sys.exit(0)
with open(arg("--config") or "") as fh:
    config = json.load(fh)
if command == "check":
    ok = config["api_key"] != "wrong"
    out(
        {
            "type": "CONNECTION_STATUS",
            "connectionStatus": {
                "status": "SUCCEEDED" if ok else "FAILED",
                **({} if ok else {"message": "bad key"}),
            },
        }
    )
elif command == "discover":
    dropped = config.get("drop_columns", [])
    props = STREAM["json_schema"]["properties"]
    STREAM["json_schema"]["properties"] = {k: v for k, v in props.items() if k not in dropped}
    if "updated_at" in dropped:
        STREAM["default_cursor_field"] = ["id"]
    out({"type": "CATALOG", "catalog": {"streams": [STREAM]}})
elif command == "read":
    state_path = arg("--state")
    states = []
    if state_path:
        with open(state_path) as fh:
            states = json.load(fh)
    start = states[0]["stream"]["stream_state"]["id"] if states else 0
    behaviour = config.get("behaviour", "ok")
    for i in range(start + 1, int(config.get("rows", 5)) + 1):
        out(
            {
                "type": "RECORD",
                "record": {
                    "stream": "items",
                    "emitted_at": 0,
                    "data": {
                        k: v
                        for k, v in {
                            "id": i,
                            "api_key": config["api_key"],
                            "updated_at": i * 10,
                        }.items()
                        if k not in config.get("drop_columns", [])
                    },
                },
            }
        )
        if i == start + 2:
            out(
                {
                    "type": "STATE",
                    "state": {
                        "type": "STREAM",
                        "stream": {
                            "stream_descriptor": {"name": "items"},
                            "stream_state": {"id": i},
                        },
                    },
                }
            )
            if behaviour == "trace_error":
                out(
                    {
                        "type": "TRACE",
                        "trace": {
                            "type": "ERROR",
                            "emitted_at": 0,
                            "error": {
                                "message": "The API key has expired.",
                                "internal_message": "401",
                                "failure_type": "config_error",
                            },
                        },
                    }
                )
                sys.exit(1)
            if behaviour == "hang":
                time.sleep(120)
            if behaviour == "garbage":
                print("<html>502 Bad Gateway</html>", flush=True)
    out(
        {
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": "items"},
                    "stream_state": {"id": max(start, int(config.get("rows", 5)))},
                },
            },
        }
    )
