"""``conntrack -L`` (neutrace.syntax.conntrack): real output (an ICMP and a TCP connection in a
zone, an untracked-protocol entry, conntrack's summary line), both formats, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.syntax.conntrack import CtLine, format_conntrack, parse_conntrack
from tests.support.paths import DATA

LINUX = DATA / "linux"


def test_real_output() -> None:
    ext = parse_conntrack((LINUX / "conntrack-extended.txt").read_text())
    plain = parse_conntrack((LINUX / "conntrack.txt").read_text())
    assert len(ext) == 3 and [c.family for c in ext] == ["ipv4"] * 3
    assert [c.proto for c in ext] == [c.proto for c in plain] == ["icmp", "tcp", "unknown"]
    icmp, tcp, _ = ext
    assert icmp.zone == 4098 and icmp.flags == ("UNREPLIED",)
    assert icmp.field("orig", "type") == "8" and icmp.field("reply", "type") == "0"
    assert tcp.state == "SYN_SENT" and tcp.field("orig", "dport") == "22"
    assert tcp.field("reply", "sport") == "22" and tcp.proto_number == 6
    from dataclasses import replace
    assert [replace(c, family="") for c in ext] == list(plain)


@pytest.mark.parametrize(("text", "match"), [
    ("tcp 6\n", "PROTO NUMBER TIMEOUT"),
    ("tcp 6 10 ESTABLISHED src=1.1.1.1 dst=2.2.2.2\n", "original and a reply"),
    ("tcp 6 10 src=1.1.1.1 dst=2.2.2.2 src=2.2.2.2 dst=1.1.1.1 src=3.3.3.3\n", "third tuple"),
    ("tcp 6 10 src=1.1.1.1 dst=2.2.2.2 bogus src=2.2.2.2 dst=1.1.1.1\n", "unexpected word"),
    ("udp 17 1 src=1.1.1.1 dst=2.2.2.2 src=2.2.2.2 dst=1.1.1.1 zone=x\n", "numbers"),
])
def test_bad_lines(text: str, match: str) -> None:
    with pytest.raises(SyntaxParseError, match=match) as err:
        parse_conntrack(text, source="ct.txt")
    assert err.value.line == 1


ips = st.sampled_from(["10.0.0.1", "10.0.0.2", "192.168.100.102", "fd00::1"])


@st.composite
def lines(draw: st.DrawFn) -> CtLine:
    proto = draw(st.sampled_from(["icmp", "tcp", "udp"]))
    a, b = draw(ips), draw(ips)
    if proto == "icmp":
        orig = (("src", a), ("dst", b), ("type", "8"), ("code", "0"), ("id", "7"))
        reply = (("src", b), ("dst", a), ("type", "0"), ("code", "0"), ("id", "7"))
    else:
        sp, dp = draw(st.integers(1, 65535)), draw(st.integers(1, 65535))
        orig = (("src", a), ("dst", b), ("sport", str(sp)), ("dport", str(dp)))
        reply = (("src", b), ("dst", a), ("sport", str(dp)), ("dport", str(sp)))
    flags = draw(st.sampled_from([(), ("UNREPLIED",), ("ASSURED",)]))
    return CtLine(proto, {"icmp": 1, "tcp": 6, "udp": 17}[proto], draw(st.integers(0, 432000)),
                  orig, reply, draw(st.sampled_from(["", "ipv4"])),
                  "ESTABLISHED" if proto == "tcp" else "", flags, draw(st.integers(0, 255)),
                  draw(st.integers(0, 65535)), 1)


@given(st.lists(lines(), max_size=5).map(tuple))
def test_round_trip(cts: tuple[CtLine, ...]) -> None:
    assert parse_conntrack(format_conntrack(cts)) == cts
