"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright
(never ``playwright install``: nothing is downloaded), with the flags that keep it off the network
(no background networking, component updates, sync, QUIC) and a fresh profile per browser.

``chromium_available()`` says whether it can run here; tests guard on it with
``tests.conftest.require`` so that CI fails if .ci/run forgot to install it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("NEUTRACE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
         "--no-default-browser-check", "--disable-features=Translate,OptimizationHints,"
         "MediaRouter,DialMediaRouteProvider")
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "browser"


def chromium_available() -> bool:
    """Debian's chromium and the playwright package are both here."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def chromium(width: int = 1600, height: int = 1000) -> Iterator[Any]:
    """A Playwright BrowserContext on Debian's chromium with a fresh profile (Playwright passes
    it as --user-data-dir), closed and removed after."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="nt-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=list(FLAGS),
                viewport={"width": width, "height": height})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def artifact(name: str) -> Path:
    """Where a test keeps a screenshot (``out/browser/``, gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
