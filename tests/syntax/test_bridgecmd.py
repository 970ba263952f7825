"""Parsers and formatters of iproute2's ``bridge`` output (neutrace.syntax.bridgecmd): real
output of ``bridge fdb``/``bridge link`` (tests/data/linux/), JSON and text agreeing, round
trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.syntax import bridgecmd as B
from tests.support.paths import DATA

LINUX = DATA / "linux"


def test_fdb_real_output_json_and_text_agree() -> None:
    js = B.parse_fdb_json((LINUX / "bridge-d-j-fdb.json").read_text())
    tx = B.parse_fdb_text((LINUX / "bridge-fdb.txt").read_text())
    assert js == tx
    learned = [e for e in js if e.learned]
    assert [(e.mac, e.dev, e.master) for e in learned] == [
        ("26:8a:69:d4:0b:e0", "qvb1", "qbr1")]
    assert any(e.dev == "tap1" and e.state == "permanent" and e.master == "qbr1" for e in js)


def test_bridge_links_real_output() -> None:
    js = B.parse_bridge_links_json((LINUX / "bridge-d-j-link.json").read_text())
    tx = B.parse_bridge_links_text((LINUX / "bridge-link.txt").read_text())
    assert js == tx
    assert {(p.ifname, p.master, p.state) for p in js} == {
        ("qvb1", "qbr1", "forwarding"), ("tap1", "qbr1", "disabled")}


def test_bad_fdb_line() -> None:
    with pytest.raises(SyntaxParseError, match="not a `bridge fdb` line") as err:
        B.parse_fdb_text("hello world\n", source="x")
    assert err.value.line == 1
    with pytest.raises(SyntaxParseError, match="JSON"):
        B.parse_fdb_json("[1, 2]", source="x")


macs = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(
    lambda b: ":".join(f"{x:02x}" for x in b))
devs = st.sampled_from(["qvb1", "tap1", "qbr1", "eth0"])
fdb = st.builds(B.FdbEntry, macs, devs, st.none() | st.just("qbr1"),
                st.none() | st.integers(1, 4094),
                st.sampled_from([(), ("self",), ("extern_learn",)]),
                st.sampled_from(["", "permanent", "static"]))


@given(st.lists(fdb, max_size=6).map(tuple))
def test_fdb_round_trip(entries: tuple[B.FdbEntry, ...]) -> None:
    assert B.parse_fdb_json(B.format_fdb_json(entries)) == entries
    assert B.parse_fdb_text(B.format_fdb_text(entries)) == entries


ports = st.builds(B.BridgePort, devs, st.just("qbr1"),
                  st.sampled_from(["forwarding", "disabled", "blocking"]), st.integers(1, 99))


@given(st.lists(ports, max_size=4).map(tuple))
def test_bridge_links_round_trip(ps: tuple[B.BridgePort, ...]) -> None:
    assert B.parse_bridge_links_json(B.format_bridge_links_json(ps)) == ps
    assert B.parse_bridge_links_text(B.format_bridge_links_text(ps)) == ps
