"""``credentials rotate``: new application stored (0600), old one deleted, resumable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx

from luigi_airbyte.sandbox import Sandbox

CRM = "Postgres CRM → Warehouse"


def _token_status(sb: Sandbox, client_id: str, secret: str) -> int:
    body = {"client_id": client_id, "client_secret": secret, "grant-type": "client_credentials"}
    return httpx.post(f"{sb.url}/applications/token", json=body, timeout=10).status_code


def _project(tmp_path: Path, sb: Sandbox) -> tuple[Path, Path]:
    creds = tmp_path / "secrets" / "airbyte.json"
    creds.parent.mkdir()
    creds.write_text(json.dumps({"client_id": sb.client_id, "client_secret": sb.client_secret}))
    creds.chmod(0o600)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        f"""\
version: 1
airbyte:
  url: {sb.url}
  auth:
    type: client_credentials
    client_id: "file:{creds}#client_id"
    client_secret: "file:{creds}#client_secret"
owners: {{ops: {{}}}}
pipelines:
  p: {{owner: ops, steps: [{{sync: crm, connection: "{CRM}"}}]}}
""",
        encoding="utf-8",
    )
    return pipeline, creds


def test_rotate_replaces_the_credential(invoke, sandbox, tmp_path: Path) -> None:
    pipeline, creds = _project(tmp_path, sandbox)
    old_id, old_secret = sandbox.client_id, sandbox.client_secret

    result = invoke("credentials", "rotate", "-f", str(pipeline), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    stored = json.loads(creds.read_text())
    new_id, new_secret = stored["client_id"], stored["client_secret"]
    assert new_id != old_id
    assert new_secret != old_secret
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert doc["location"] == f"file:{creds}"
    assert doc["new_client_id"] == new_id
    assert doc["old_client_id"] == old_id
    assert doc["new_application"]["name"].startswith("luigi-airbyte-")
    assert [(d["client_id"], d["reason"]) for d in doc["deleted"]] == [(old_id, "replaced")]
    # no secret in the output
    assert new_secret not in result.stdout + result.stderr
    assert old_secret not in result.stdout + result.stderr

    # minting a token: the old secret is refused, the new one works
    assert _token_status(sandbox, old_id, old_secret) in (401, 403)
    assert _token_status(sandbox, new_id, new_secret) == 200

    # the pipeline keeps working with the rotated credential
    synced = invoke("sync", CRM, "-f", str(pipeline), "--json")
    assert synced.exit_code == 0, synced.output


def test_rotate_finishes_an_interrupted_rotation(invoke, sandbox, tmp_path: Path) -> None:
    pipeline, creds = _project(tmp_path, sandbox)
    assert invoke("credentials", "rotate", "-f", str(pipeline)).exit_code == 0
    # A rotation that died after creating its application leaves one behind.
    leftover = sandbox.engine.create_application("luigi-airbyte-20260101T000000Z")
    unrelated = sandbox.engine.create_application("someone else's app")

    result = invoke("credentials", "rotate", "-f", str(pipeline))
    assert result.exit_code == 0, result.output
    assert f"deleted application luigi-airbyte-20260101T000000Z ({leftover['id']})" in result.stdout
    names = [a["name"] for a in sandbox.engine.list_applications()]
    assert "luigi-airbyte-20260101T000000Z" not in names
    assert unrelated["name"] in names
    assert len([n for n in names if n.startswith("luigi-airbyte-")]) == 1
    stored = json.loads(creds.read_text())
    assert _token_status(sandbox, stored["client_id"], stored["client_secret"]) == 200


def test_rotate_refuses_an_env_reference(invoke, sandbox, airbyte_args) -> None:
    result = invoke("credentials", "rotate", *airbyte_args(sandbox))
    assert result.exit_code == 3
    assert "cannot be rotated" in result.stderr
    assert "file:/etc/luigi-airbyte/airbyte.json#client_id" in result.stderr
    assert [a["clientId"] for a in sandbox.engine.list_applications()] == [sandbox.client_id]


def test_rotate_refuses_a_secret_file_others_can_read(invoke, sandbox, tmp_path: Path) -> None:
    pipeline, creds = _project(tmp_path, sandbox)
    creds.chmod(0o644)
    result = invoke("credentials", "rotate", "-f", str(pipeline), "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["type"] == "SecretError"
