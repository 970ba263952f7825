"""A test-only wording table: every phrase of ``neutrace.render.phrases.PHRASES`` wrapped in
``«…»``, so that a test that still read rendered sentences would notice (tests/render/
test_rewording.py, ``pytest --reword-phrases``)."""

from __future__ import annotations

from neutrace.render import phrases

OPEN, CLOSE = "«", "»"


def reworded(phrases: dict[str, str]) -> dict[str, str]:
    """Each phrase wrapped (its ``{fields}`` kept)."""
    return {key: f"{OPEN}{text}{CLOSE}" for key, text in phrases.items()}


def reword_all() -> None:
    """Reword the live table for the rest of the process."""
    phrases.PHRASES.update(reworded(dict(phrases.PHRASES)))
