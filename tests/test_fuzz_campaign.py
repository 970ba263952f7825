"""The heavy fuzz run (``pytest -m fuzz``; not part of the default run): a campaign of
NEUTRACE_FUZZ_CAMPAIGN inputs (default 20,000) per target of tests.support.fuzz, which must find
no untyped exception, no input slower than the bound (0.5 CPU s) and no broken round trip.
scripts/fuzz_campaign.py runs the same campaign and prints its figures (docs/reliability.md)."""

from __future__ import annotations

import os

import pytest

from tests.support.fuzz import TARGETS, campaign

INPUTS = int(os.environ.get("NEUTRACE_FUZZ_CAMPAIGN", "20000"))


@pytest.mark.fuzz
@pytest.mark.parametrize("name", list(TARGETS))
def test_campaign(name: str) -> None:
    stats = campaign(TARGETS[name], INPUTS)
    assert stats.inputs >= INPUTS * 0.95
    assert not stats.findings, "\n".join(
        f"{f.kind}: {f.text[:300]!r}\n{f.detail[-800:]}" for f in stats.findings[:5])
