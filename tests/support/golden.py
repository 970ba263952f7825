"""Golden files: text that people read, kept under tests/golden/ and reviewed like code.

``check_golden("show/seed-test-cmpt-02.txt", text)`` compares ``text`` with the file. Run pytest
with ``--update-golden`` (or set ``NEUTRACE_UPDATE_GOLDEN=1``) to (re)write the files instead,
then review their diff like code.
"""

from __future__ import annotations

import difflib
import os

from tests.support.paths import GOLDEN_DIR

#: Set by the ``--update-golden`` and ``--reword-phrases`` pytest options (tests/conftest.py).
UPDATE = {"enabled": False, "reworded": False}


def updating() -> bool:
    """True when goldens are being rewritten rather than checked."""
    return UPDATE["enabled"] or os.environ.get("NEUTRACE_UPDATE_GOLDEN") == "1"


def check_golden(relpath: str, text: str) -> None:
    """Assert that ``text`` equals the golden file ``tests/golden/<relpath>`` (or rewrite it)."""
    path = GOLDEN_DIR / relpath
    if UPDATE["reworded"]:
        import pytest

        pytest.skip("every phrase is reworded (--reword-phrases): goldens keep the real words")
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        raise AssertionError(
            f"golden file {path} is missing: run pytest --update-golden to create it"
        )
    expected = path.read_text()
    if expected != text:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), str(path), "actual"
            )
        )
        raise AssertionError(f"{path} differs (pytest --update-golden rewrites it):\n{diff}")
