"""Golden files: text that people read, kept under tests/golden/ and reviewed like code.

``check_golden("show/seed-test-cmpt-02.txt", text)`` compares ``text`` with the file; with
``NEUTRACE_UPDATE_GOLDEN=1`` it (re)writes the file instead.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(relpath: str, text: str) -> None:
    path = GOLDEN_DIR / relpath
    if os.environ.get("NEUTRACE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        raise AssertionError(
            f"golden file {path} is missing: run with NEUTRACE_UPDATE_GOLDEN=1 to create it"
        )
    expected = path.read_text()
    if expected != text:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), str(path), "actual"
            )
        )
        raise AssertionError(f"{path} differs (NEUTRACE_UPDATE_GOLDEN=1 rewrites it):\n{diff}")
