"""Fuzzing the topology file's reader (topology.source) and the whole loader (source, schema,
resolve) on mutated example clouds and generated YAML/JSON: only `TopologyError`, in bounded
time (docs/reliability.md)."""

from __future__ import annotations

import pytest

from tests.support.fuzz import TARGETS, assert_robust


@pytest.mark.parametrize("name", ["topology.source", "topology"])
def test_loader_refuses_bad_input_only_with_typed_errors(name: str) -> None:
    assert_robust(TARGETS[name])
