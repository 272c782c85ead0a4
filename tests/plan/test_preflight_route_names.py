"""preflight names each alert route as written: a reference by its name, a URL masked."""

from __future__ import annotations

from pathlib import Path

from luigi_airbyte.app.preflight import _Checks
from luigi_airbyte.app.runtime import Runtime

PIPELINE = """\
version: 1
owners:
  data:
    alerts:
      - webhook:env:HOOK
      - slack:file:{secret}
      - webhook:http://127.0.0.1:9/T000/B000/XXXXSECRETPATH
pipelines:
  p:
    owner: data
    steps:
      - command: {{argv: [echo]}}
        name: a
"""


def test_route_lines_show_references_as_written_and_urls_masked(tmp_path: Path) -> None:
    secret = tmp_path / "slack.url"
    secret.write_text("http://127.0.0.1:9/services/SECRETSLACKPATH", encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE.format(secret=secret), encoding="utf-8")
    rt = Runtime.load(path, env={"HOOK": "http://127.0.0.1:9/hook/SECRETHOOKPATH"})
    try:
        checks = _Checks(rt, [rt.graph("p")])
        checks.routes()
    finally:
        rt.close()
    names = [c.name for c in checks.checks]
    assert names == [
        "route webhook:env:HOOK",
        f"route slack:file:{secret}",
        "route webhook:http://127.0.0.1:9/…",
    ]
    shown = " ".join(f"{c.name} {c.detail}" for c in checks.checks)
    assert "SECRET" not in shown.replace(str(secret), "")
