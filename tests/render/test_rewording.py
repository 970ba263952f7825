"""The done-when of "steps carry facts": every sentence is written by ``neutrace.render``
(``steps``, ``fates``, from ``phrases.PHRASES``) from facts and nothing reads one back. With every
phrase reworded, the readable walk and the JSON change, and every test that is not a golden (walk
dispositions, annotate's explanations, the engines, the OVS comparison on the seed's bridges)
stays green."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from neutrace.app import session
from neutrace.backends.ovs_sandbox import ovs_available
from neutrace.render import phrases
from neutrace.render.trace_json import traces_to_json
from neutrace.render.walk import walk_text
from tests.conftest import require
from tests.support.paths import REPO
from tests.support.rewording import CLOSE, OPEN, reworded

# the tests whose assertions must not depend on words (goldens skip themselves)
FACT_TESTS = ["tests/engines", "tests/sim", "tests/render/test_show.py", "tests/importers"]
OVS_FACT_TESTS = ["tests/functional/ovs/test_differential_agents.py::"
                  "test_agents_flows_like_ovs[seed-test-cmpt-02]"]


def test_the_table_rewords_the_walk_and_the_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewording the table changes what people read, and only that."""
    w = session.walker(session.seed_path())
    plain = session.trace(w, "test-01", "203.0.113.10").request
    monkeypatch.setattr(phrases, "PHRASES", reworded(phrases.PHRASES))
    again = session.trace(w, "test-01", "203.0.113.10").request
    assert again == plain  # the facts do not depend on the words
    text = walk_text(again)
    assert f"{OPEN}-> no learned MAC for destination, flooding{CLOSE}" in text
    doc = json.loads(traces_to_json({"request": again}))["request"]
    reasons = [d["reason"] for d in doc["dispositions"]]
    assert all(r.startswith(OPEN) for r in reasons), reasons
    causes = [d["cause"]["type"] for d in doc["dispositions"]]
    assert "OpenFlowFate" in causes and "WalkFate" in causes


def _run_reworded(targets: list[str]) -> None:
    """Run ``targets`` with ``--reword-phrases``: they must all pass."""
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reword-phrases",
         "-m", "not conformance and not root", *targets],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=1200)
    tail = "\n".join(res.stdout.splitlines()[-30:])
    assert res.returncode == 0, tail
    assert " passed" in tail and " failed" not in tail


def test_facts_tests_pass_with_every_phrase_reworded() -> None:
    """The non-golden tests of the engines, the walker, the annotator and the renderers, run
    with ``--reword-phrases``."""
    _run_reworded([t for t in FACT_TESTS if (REPO / t).exists()])


@pytest.mark.ovs
def test_ovs_comparison_passes_with_every_phrase_reworded() -> None:
    """The engine against real OVS on the seed's bridges (``verify.ofproto``), reworded."""
    require(ovs_available(), "Open vSwitch")
    _run_reworded(OVS_FACT_TESTS)
