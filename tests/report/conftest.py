"""Headless Chromium for the report tests: found, or installed from Debian, or skipped.

The ``chromium`` fixture (session-scoped) looks for the binary; when it is missing and
the tests run as root on a Debian-like system (a fresh CI clone), it installs it with
``apt-get install chromium``, once, under a file lock (pytest-xdist workers share it).
Anywhere else the browser tests are skipped with the reason.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _find() -> str | None:
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _install() -> str:
    """Try ``apt-get install chromium``; returns why it could not, or ""."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root, so apt-get cannot install it (run: apt-get install -y chromium)"
    if shutil.which("apt-get") is None:
        return "no apt-get on this system (install Chromium by hand)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock_path = Path(tempfile.gettempdir()) / "luigi-airbyte-chromium-install.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _find():
            return ""
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            try:
                done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"{' '.join(argv)} failed: {exc}"
            if done.returncode != 0:
                return f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a headless-capable Chromium, installing it if needed and allowed."""
    found = _find()
    if found:
        return found
    reason = _install()
    found = _find()
    if found:
        return found
    pytest.skip(f"Chromium is not installed and could not be installed: {reason}")


class Browser:
    """Headless Chromium run directly: ``--dump-dom`` and ``--screenshot``."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile

    def _argv(self, *extra: str) -> list[str]:
        return [
            self.binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
            *extra,
        ]

    def dump_dom(self, page: Path) -> str:
        done = subprocess.run(
            self._argv("--dump-dom", page.resolve().as_uri()),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "<html" in done.stdout, done.stderr[-2000:]
        return done.stdout

    def screenshot(self, page: Path, out: Path, size: str = "1100,1500") -> Path:
        done = subprocess.run(
            self._argv(f"--screenshot={out}", f"--window-size={size}", page.resolve().as_uri()),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return out


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:
    yield Browser(chromium, tmp_path / "chromium-profile")


class Dom(HTMLParser):
    """Elements of a page as (tag, attributes) in document order, and the visible text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []
        self._skip = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [
            attrs
            for t, attrs in self.elements
            if t == tag and (cls is None or cls in attrs.get("class", "").split())
        ]

    def tags(self) -> set[str]:
        return {t for t, _ in self.elements}
