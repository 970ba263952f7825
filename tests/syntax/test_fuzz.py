"""Fuzzing the parsers of neutrace.syntax (tests.support.fuzz): mutations of the project's own
valid dumps and grammar-aware texts; every input is refused with a typed error (never another
exception), parses within a bounded CPU time, and round-trips where a formatter exists.
2,000 derandomized inputs per parser in CI (docs/reliability.md)."""

from __future__ import annotations

import pytest

from tests.support.fuzz import TARGETS, assert_robust

SYNTAX = [name for name in TARGETS if not name.startswith(("topology", "sos"))]


@pytest.mark.parametrize("name", SYNTAX)
def test_parser_refuses_bad_input_only_with_typed_errors(name: str) -> None:
    assert_robust(TARGETS[name])
