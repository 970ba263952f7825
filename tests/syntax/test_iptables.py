"""iptables-save / ipset save syntax: round trips (hypothesis), real Neutron text, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.syntax.iptables import (
    BUILTIN_CHAINS,
    Chain,
    IpSet,
    IpSets,
    IptRule,
    Match,
    Option,
    Ruleset,
    Table,
    Target,
    format_ipset_save,
    format_iptables_save,
    parse_ipset_save,
    parse_iptables_save,
)
from tests.support.golden import check_golden
from tests.support.samples import NAT, SG_IPSETS, SG_IPTABLES


@pytest.mark.parametrize("text", [NAT, SG_IPTABLES], ids=["qrouter", "hybrid-firewall"])
def test_neutron_text_round_trips(text: str) -> None:
    rs = parse_iptables_save(text, "neutron.txt")
    again = format_iptables_save(rs)
    assert again == text  # canonical iptables-save layout is kept verbatim
    assert parse_iptables_save(again) == rs


def test_ipset_round_trip_and_members() -> None:
    sets = parse_ipset_save(SG_IPSETS)
    assert format_ipset_save(sets) == SG_IPSETS
    (s,) = sets.sets
    assert s.type == "hash:net" and s.family == "inet" and s.elements() == ("10.0.0.6",)


def test_rule_lines_and_structure() -> None:
    rs = parse_iptables_save(NAT)
    nat = rs.table("nat")
    assert nat is not None
    (rule,) = [r for r in nat.rules if r.chain == "neutron-l3-agent-float-snat"]
    assert NAT.splitlines()[rule.line - 1] == rule.text
    assert rule.target == Target("SNAT", (Option("--to-source", ("192.168.100.102",)),))
    assert rule.matches == (Match("", (Option("-s", ("192.168.111.4/32",)),)),)
    post = nat.rules_of("neutron-l3-agent-POSTROUTING")[0]
    assert [o.negated for _, o in post.options()] == [True, True, True]


def test_legacy_negation_and_implicit_protocol_module() -> None:
    text = ("*filter\n:INPUT ACCEPT [0:0]\n"
            "-A INPUT -p tcp --dport 22 -m state --state ! NEW -j ACCEPT\nCOMMIT\n")
    rule = parse_iptables_save(text).tables[0].rules[0]
    assert rule.text == "-A INPUT -p tcp -m tcp --dport 22 -m state ! --state NEW -j ACCEPT"


BAD = {
    "unknown-module": "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m recent --rcheck -j DROP\nCOMMIT\n",
    "unknown-target": "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j TARPIT\nCOMMIT\n",
    "unknown-option": "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m tcp --dportt 22 -j DROP\nCOMMIT\n",
    "target-option": (
        "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j SNAT --to 1.2.3.4\nCOMMIT\n"
    ),
    "undeclared-chain": "*filter\n:INPUT ACCEPT [0:0]\n-A FOO -j DROP\nCOMMIT\n",
    "no-commit": "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\n",
    "bad-policy": "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n",
    "missing-value": "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s\nCOMMIT\n",
}


def test_errors_name_source_line_and_fix() -> None:
    out = []
    for name, text in BAD.items():
        with pytest.raises(SyntaxParseError) as info:
            parse_iptables_save(text, f"{name}.rules")
        err = info.value
        assert err.source == f"{name}.rules" and err.line is not None and err.fix
        out.append(f"{name}: {err}")
    with pytest.raises(SyntaxParseError, match="add to set X before it is created"):
        parse_ipset_save("add X 10.0.0.1\n", "sets.txt")
    check_golden("iptables/errors.txt", "\n".join(out) + "\n")


# -- property: parse(format(x)) == x ---------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
ADDRS = st.builds(lambda a, b, m: f"10.{a}.{b}.0/{m}", st.integers(0, 255), st.integers(0, 255),
                  st.integers(8, 32))
COMMENTS = st.text(alphabet="abc XYZ.-_()'\"\\,", min_size=1, max_size=20)


@st.composite
def rules(draw: st.DrawFn, chain: str, user_chains: list[str]) -> IptRule:
    base: list[Option] = []
    if draw(st.booleans()):
        base.append(Option("-s", (draw(ADDRS),), draw(st.booleans())))
    if draw(st.booleans()):
        base.append(Option("-i", (draw(NAMES) + draw(st.sampled_from(["", "+"])),),
                           draw(st.booleans())))
    proto = draw(st.sampled_from(["", "tcp", "udp", "icmp"]))
    if proto:
        base.append(Option("-p", (proto,)))
    matches = [Match("", tuple(base))] if base else []
    if proto in ("tcp", "udp"):
        matches.append(Match(proto, (Option("--dport", (str(draw(st.integers(1, 65535))),),
                                            draw(st.booleans())),)))
    if draw(st.booleans()):
        matches.append(Match("conntrack", (Option("--ctstate", (draw(st.sampled_from(
            ["NEW", "RELATED,ESTABLISHED", "INVALID", "DNAT"])),), draw(st.booleans())),)))
    if draw(st.booleans()):
        matches.append(Match("physdev", (Option("--physdev-out", (draw(NAMES),)),
                                         Option("--physdev-is-bridged", ()))))
    if draw(st.booleans()):
        matches.append(Match("comment", (Option("--comment", (draw(COMMENTS),)),)))
    choices = ["ACCEPT", "DROP", "RETURN", "MARK", *user_chains]
    name = draw(st.sampled_from(choices))
    opts: tuple[Option, ...] = ()
    if name == "MARK":
        opts = (Option("--set-xmark", (f"{draw(st.integers(0, 255)):#x}/0xffff",)),)
    goto = name in user_chains and draw(st.booleans())
    counters = draw(st.none() | st.tuples(st.integers(0, 99), st.integers(0, 9999)))
    return IptRule(chain, tuple(matches), Target(name, opts, goto), counters)


@st.composite
def rulesets(draw: st.DrawFn) -> Ruleset:
    tables = []
    for tname in draw(st.lists(st.sampled_from(list(BUILTIN_CHAINS)), unique=True, max_size=3)):
        users = draw(st.lists(NAMES.map(lambda n: "neutron-" + n), unique=True, max_size=3))
        builtins = list(BUILTIN_CHAINS[tname])
        chains = [Chain(c, draw(st.sampled_from(["ACCEPT", "DROP"]))) for c in builtins]
        chains += [Chain(u, None, (draw(st.integers(0, 9)), 0)) for u in users]
        rs = [draw(rules(draw(st.sampled_from(builtins + users)), users))
              for _ in range(draw(st.integers(0, 6)))]
        tables.append(Table(tname, tuple(chains), tuple(rs)))
    return Ruleset(tuple(tables))


@settings(max_examples=150, deadline=None)
@given(rulesets())
def test_parse_format_round_trip(rs: Ruleset) -> None:
    assert parse_iptables_save(format_iptables_save(rs)) == rs


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(NAMES, st.lists(ADDRS, max_size=4)), max_size=4,
                unique_by=lambda t: t[0]))
def test_ipset_round_trip(spec: list[tuple[str, list[str]]]) -> None:
    sets = IpSets(tuple(IpSet(n, "hash:net", ("family", "inet", "hashsize", "1024"), tuple(m))
                        for n, m in spec))
    assert parse_ipset_save(format_ipset_save(sets)) == sets
