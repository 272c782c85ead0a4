"""What the run and trend reports share: the page, its CSS, escaping with masking, units.

Every value in a page passes through ``_Text`` (URL passwords masked, the caller's
redactor, then HTML-escaped).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from luigi_airbyte.store.runs import StreamStatRecord

Redact = Callable[[str], str]

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_SAFE_LINK = re.compile(r"^https?://[^\s\"'<>]+$")

CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;
--panel:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--wait:#e6eaef;--queued:#afb8c1;
--sync:#0969da;--attached:#54aeff;--check:#8250df;--transform:#bf8700;--skip:#8c959f;
--link:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;
--line:#30363d;--panel:#161b22;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--wait:#262c36;
--queued:#5a636e;--sync:#2f81f7;--attached:#79c0ff;--check:#a371f7;--transform:#e3b341;
--skip:#6e7681;--link:#58a6ff}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:16px 24px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
a{color:var(--link)}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;
font-size:12.5px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;
border:2px solid currentColor}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.muted{color:var(--muted)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0 8px;padding:0;list-style:none}
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle;
border:1px solid var(--line)}
.recap{border:2px solid var(--bad);border-left-width:8px;padding:8px 12px;margin:8px 0;
background:var(--panel)}
.note{color:var(--muted);font-size:12.5px}
svg{max-width:100%;height:auto;font:11px system-ui,sans-serif}
svg text{fill:var(--fg)}svg .axis{stroke:var(--line)}svg .lbl{fill:var(--muted)}
.s-wait{fill:var(--wait)}.s-queued{fill:var(--queued)}.s-sync{fill:var(--sync)}
.s-attached{fill:var(--attached)}.s-check{fill:var(--check)}
.s-transform{fill:var(--transform)}.s-failed{fill:url(#hatch);stroke:var(--bad);
stroke-width:1.5}.s-skip{fill:var(--skip)}
svg .t-bad{fill:var(--bad);font-weight:600}svg .t-ok{fill:var(--ok)}
.edge{stroke:var(--muted);fill:none;stroke-width:1}.node{fill:var(--panel);stroke:var(--line)}
.line{fill:none;stroke:var(--sync);stroke-width:1.5}.pt{fill:var(--sync)}
.pt-bad{fill:var(--bad)}.pt-warn{fill:var(--warn)}
details>summary{cursor:pointer}.nw{white-space:nowrap}
@media print{:root{--bg:#fff;--fg:#000;--muted:#333;--line:#999;--panel:#fff}
body{max-width:none;padding:0;font-size:11px}a{color:#000}
a[href^="http"]::after{content:" (" attr(href) ")";font-size:9px}
section,table,svg,.recap{break-inside:avoid}h2{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}details{display:block}}
"""


# --- text ----------------------------------------------------------------------------


class _Text:
    """Escaping with masking: every value in the page goes through ``__call__``."""

    def __init__(self, redact: Redact | None) -> None:
        self.redact = redact
        self._cache: dict[str, str] = {}

    def clean(self, value: object) -> str:
        text = "" if value is None else str(value)
        if "://" in text:
            text = _URL_USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
        if self.redact is not None:
            text = self.redact(text)
        return text

    def __call__(self, value: object) -> str:
        key = "" if value is None else str(value)
        done = self._cache.get(key)
        if done is None:
            done = html.escape(self.clean(key), quote=True)
            if len(self._cache) < 50_000:
                self._cache[key] = done
        return done

    def link(self, url: object, label: object) -> str:
        target = self.clean(url)
        if not _SAFE_LINK.match(target):
            return self(label)
        return f'<a href="{html.escape(target, quote=True)}">{self(label)}</a>'


def _num(value: int | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f}s"
    minutes, sec = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _page(title: str, body: Iterable[str], e: _Text) -> str:
    return "".join(
        (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            '<meta name="color-scheme" content="light dark">',
            # No fetch of any kind, even if an escaping bug let markup through.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">",
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
            *body,
            "</body></html>\n",
        )
    )


def _stream_name(s: StreamStatRecord) -> str:
    return f"{s.namespace}.{s.stream}" if s.namespace else s.stream


@dataclass(frozen=True)
class StepPlan:
    """What the pipeline file says about one step (all optional)."""

    after: tuple[str, ...] = ()
    connection: str = ""  # sync steps: the connection as written in the file
    models: tuple[str, ...] = ()  # dbt steps: model names


_STATUS_TEXT = {
    "succeeded": "✓ succeeded",
    "failed": "✗ FAILED",
    "skipped": "↷ skipped",
    "fresh": "↷ fresh",
    "upstream_failed": "⊘ upstream failed",
    "not_run": "⊘ not run",
    "pending": "… pending",
    "running": "… running",
}
