"""The done-when of "steps carry facts": every sentence is written by ``neutrace.render``
(``steps``, ``fates``, from ``phrases.PHRASES``) from facts and nothing reads one back. With every
phrase reworded, the readable walk and the JSON change, every line of them (and of the summary,
the verdict and ofproto-trace's text) shows a reworded phrase, and every test that is not a
golden or a test of the CLI's words (walk dispositions, annotate's explanations, the engines,
the diagrams, the diff, the web API, the OVS comparison on the seed's bridges) stays green."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from neutrace.agents import program
from neutrace.app import session
from neutrace.backends.ovs_sandbox import ovs_available
from neutrace.cli import app
from neutrace.render import phrases
from neutrace.render.trace_json import traces_to_json
from neutrace.render.verdict import verdict_line
from neutrace.render.walk import walk_summary, walk_text
from neutrace.syntax.ofactions import split_action_list
from neutrace.topology import load
from neutrace.trace import ActionStep, CtStep, Trace
from tests.conftest import require
from tests.support.paths import REPO
from tests.support.rewording import CLOSE, OPEN, reworded

# the tests whose assertions must not depend on words (goldens skip themselves); the CLI's
# tests read what an operator reads (the verdict line, folded copies) and are word tests
FACT_TESTS = ["tests/engines", "tests/sim", "tests/render/test_show.py",
              "tests/render/test_diagram.py", "tests/importers", "tests/verify",
              "tests/web/test_api.py"]
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


def _unworded(text: str, data: set[str]) -> list[str]:
    """The lines of ``text`` that carry no phrase of the reworded table: words written
    elsewhere. ``data`` are lines that are data as their tool spells it (an OpenFlow action as
    the flow writes it); a ruler under a bridge header is layout."""
    return [ln for ln in text.splitlines()
            if ln.strip() and OPEN not in ln and ln.strip() not in data
            and set(ln.strip()) != {"-"}]


def _actions(trace: Trace) -> set[str]:
    return {s.action.text for hops, _ in trace.paths() for h in hops for s in h.steps
            if isinstance(s, ActionStep | CtStep)}


def test_every_rendered_line_comes_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every phrase reworded, each line of the readable walk (verbose and folded), its
    summary, the verdict, the trace JSON's texts, labels and reasons, and ofproto-trace's text
    shows a reworded phrase: no rendering writes words of its own (an OpenFlow action is data,
    as the flow spells it)."""
    w = session.walker(session.seed_path())
    monkeypatch.setattr(phrases, "PHRASES", reworded(phrases.PHRASES))
    conv = session.trace(w, "test-02", "203.0.113.10", reply=True)
    for trace in (conv.request, conv.reply):
        assert trace is not None
        data = _actions(trace)
        for text in (walk_text(trace, verbose=True), walk_text(trace, fold=True),
                     walk_summary(trace), verdict_line("request", trace)):
            assert _unworded(text, data) == []
        doc = json.loads(traces_to_json({"t": trace}))["t"]
        assert all(OPEN in d["reason"] for d in doc["dispositions"])
        branches = [doc["root"]]
        while branches:
            b = branches.pop()
            branches += b.get("children", [])
            assert b is doc["root"] or OPEN in b["label"]
            for hop in b["hops"]:
                assert all(OPEN in st["text"] or st["text"] in data for st in hop["steps"])
    host = program(load(str(session.seed_path()))).host("test-cmpt-02")
    assert host is not None
    qvo = next(p for p in host.ovs_bridges[0].ports if p.name.startswith("qvo") and p.tag == 1)
    mac = qvo.external_id("attached-mac")
    flow = (f"in_port={qvo.name},dl_src={mac},dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,"
            "arp_spa=192.168.111.4,arp_tpa=192.168.111.1")
    res = CliRunner().invoke(app, ["ofproto-trace", "--cloud", str(session.seed_path()),
                                   "--host", "test-cmpt-02", flow])
    assert res.exit_code == 0, res.stderr
    actions = {a for b in host.ovs_bridges for f in b.flows for a in split_action_list(f.actions)}
    assert "bridge(" in res.stdout and _unworded(res.stdout, actions) == []


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
