"""The fuzz corpus (tests/data/fuzz-corpus/<target>/<input>): every input that once crashed a
parser or a loader, or was slow, or broke a round trip, replayed on its target
(tests.support.fuzz.TARGETS): it must now be refused with a typed error or parse, in bounded
time and round-tripping. `scripts/fuzz_campaign.py --save` adds what a campaign finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fuzz import CORPUS, TARGETS, TEST_TIME_BOUND, check, corpus_files, corpus_text

FILES = corpus_files()


def test_the_corpus_is_there_and_names_real_targets() -> None:
    assert len(FILES) >= 40
    assert {p.parent.name for p in FILES} <= set(TARGETS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_input(path: Path) -> None:
    finding, _, _ = check(TARGETS[path.parent.name], corpus_text(path), TEST_TIME_BOUND)
    assert finding is None, f"{path.relative_to(CORPUS)}: {finding.kind}\n{finding.detail}"
