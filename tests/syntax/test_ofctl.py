"""ovs-ofctl flow syntax: round trip, agreement with OVS's own Python flow parser (ovs.flow),
dump-flows output of OpenFlow 1.0 and 1.3 with and without statistics or port names, ovs-fields(7)
synonyms and OVS's prerequisite normalisation, and the error messages (golden)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ovs.flow.ofp import OFPFlow

from neutrace.dataplane import Flow, OvsBridge
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState, compile_match
from neutrace.errors import SyntaxParseError
from neutrace.packet import arp_request, ipv4
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields
from neutrace.syntax.ofctl import format_flow, parse_flow, parse_flows
from tests.support.golden import check_golden
from tests.support.openflow_fixtures import (
    BR_EX_FLOWS,
    BR_INT_FLOWS,
    BR_TUN_FLOWS,
    VM1_IP,
    VM1_MAC,
    VM2_IP,
    VM2_MAC,
    seed_bridges,
)
from tests.support.paths import DATA as TEST_DATA
from tests.support.paths import REPO

DATA = TEST_DATA / "ofctl"

# -- strategies: flows as Neutron and ovs-ofctl write them -------------------------------------

_byte = st.integers(0, 255)
macs = st.tuples(*[_byte] * 6).map(lambda t: ":".join(f"{b:02x}" for b in t))
ipv4s = st.tuples(*[_byte] * 4).map(lambda t: ".".join(map(str, t)))
ipv6s = st.sampled_from(["fe80::1", "2001:db8::5", "fd00:1:2::a", "::"])


def _hex_mask(bits: int) -> st.SearchStrategy[str]:
    full = (1 << bits) - 1
    return st.tuples(st.integers(0, full), st.integers(0, full)).map(
        lambda vm: f"{vm[0] & vm[1]:#x}/{vm[1]:#x}")


MATCH_FIELDS: dict[str, st.SearchStrategy[str]] = {
    "in_port": st.one_of(st.integers(1, 200).map(str), st.sampled_from(
        ["LOCAL", '"int-br-ex"', "patch-tun", "qvoaf305168-66"])),
    "dl_src": st.one_of(macs, macs.map(lambda m: m + "/ff:ff:ff:00:00:00")),
    "dl_dst": st.one_of(macs, st.just("01:00:00:00:00:00/01:00:00:00:00:00")),
    "eth_src": macs,
    "dl_vlan": st.one_of(st.integers(0, 4095).map(str), st.just("0xffff")),
    "dl_vlan_pcp": st.integers(0, 7).map(str),
    "vlan_tci": st.one_of(_hex_mask(16), st.just("0x0000/0x1fff")),
    "nw_src": st.one_of(ipv4s, st.tuples(ipv4s, st.integers(0, 32)).map(
        lambda t: f"{t[0]}/{t[1]}")),
    "nw_dst": ipv4s,
    "ipv6_src": st.one_of(ipv6s, ipv6s.map(lambda a: a + "/64")),
    "nw_tos": st.integers(0, 63).map(lambda x: str(x << 2)),
    "nw_ttl": st.integers(0, 255).map(str),
    "tp_dst": st.one_of(st.integers(0, 65535).map(str), _hex_mask(16)),
    "tp_src": st.integers(0, 65535).map(str),
    "tun_id": st.integers(0, (1 << 24) - 1).map(hex),
    "reg5": st.one_of(st.integers(0, 2**32 - 1).map(hex), _hex_mask(32)),
    "reg6": st.integers(0, 65535).map(hex),
    "metadata": st.integers(0, 2**64 - 1).map(hex),
    "ct_state": st.sampled_from(["+trk", "-trk", "+est-rel-rpl", "+new-est", "+trk+inv",
                                 "0x21/0x3f"]),
    "ct_zone": st.integers(0, 65535).map(str),
    "ct_mark": st.one_of(st.integers(0, 2**32 - 1).map(hex), _hex_mask(32)),
    "arp_spa": ipv4s,
    "arp_tpa": ipv4s,
    "arp_sha": macs,
    "arp_op": st.integers(1, 2).map(str),
    "icmp_type": st.integers(0, 255).map(str),
    "conj_id": st.integers(1, 1000).map(str),
}
PROTOS = ["", "ip", "arp", "tcp", "udp", "icmp", "ipv6", "icmp6", "tcp6"]
ACTIONS = st.sampled_from([
    "drop", "NORMAL", "output:2", 'output:"int-br-ex"', "resubmit(,60)", "resubmit(5,25)",
    "mod_vlan_vid:2,resubmit(,60)", "strip_vlan,load:0x10050->NXM_NX_TUN_ID[],output:2,output:3",
    "push_vlan:0x8100,set_field:4098->vlan_vid,goto_table:60",
    "set_field:fa:16:3e:00:00:01->eth_src",
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:fa:16:3e:11:22:33,IN_PORT",
    "ct(commit,zone=NXM_NX_REG6[0..15],exec(load:0x1->NXM_NX_CT_MARK[]))",
    "ct(table=72,zone=NXM_NX_REG6[0..15])", "conjunction(10,1/2)", "conjunction(7,2/3)",
    "learn(table=20,hard_timeout=300,priority=1,cookie=0x9b1c,NXM_OF_VLAN_TCI[0..11],"
    "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
    "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:1",
    "load:0x5->NXM_NX_REG5[],load:0x1->NXM_NX_REG6[],resubmit(,71)", "set_tunnel:0x5,output:4",
    "controller", "LOCAL", "dec_ttl,output:3", "note:01.02.03", "output:NXM_NX_REG0[]",
])


@st.composite
def flows(draw: st.DrawFn) -> Flow:
    proto = draw(st.sampled_from(PROTOS))
    names = draw(st.lists(st.sampled_from(sorted(MATCH_FIELDS)), max_size=5, unique=True))
    match = ([(proto, "")] if proto else []) + [(n, draw(MATCH_FIELDS[n])) for n in names]
    return Flow(
        table=draw(st.integers(0, 254)), priority=draw(st.integers(0, 65535)),
        match=tuple(draw(st.permutations(match))), actions=draw(ACTIONS),
        cookie=draw(st.integers(0, 2**64 - 1)), idle_timeout=draw(st.integers(0, 65535)),
        hard_timeout=draw(st.integers(0, 65535)),
    )


@given(flows())
@settings(max_examples=300, deadline=None)
def test_round_trip(flow: Flow) -> None:
    assert parse_flow(format_flow(flow)) == flow


# -- against ovs.flow, OVS's own Python parser -------------------------------------------------


def _ovs_int_mask(value: Any) -> tuple[int, int | None]:
    if hasattr(value, "eth"):
        m = value.mask
        return int(value.eth), int(m) if m is not None else None
    if hasattr(value, "ip") and hasattr(value, "mask"):
        return int(value.ip), int(value.mask)
    if hasattr(value, "value") and hasattr(value, "max_mask"):
        return int(value.value), int(value.mask) if value.mask is not None else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    raise TypeError(value)


_ACTION_KEYS = {
    A.Normal: "output", A.Output: "output", A.InPort: "output", A.Local: "output",
    A.OutputReg: "output", A.Controller: "output", A.Drop: "drop", A.Resubmit: "resubmit",
    A.GotoTable: "goto_table", A.Learn: "learn", A.Ct: "ct", A.Conjunction: "conjunction",
    A.Load: "load", A.Move: "move", A.SetTunnel: "set_tunnel", A.DecTtl: "dec_ttl",
    A.Note: "note", A.PushVlan: "push_vlan",
}


def assert_agrees_with_ovs_flow(line: str) -> None:
    mine = parse_flow(line)
    theirs = OFPFlow(line)
    info = theirs.info
    assert mine.table == info.get("table", 0)
    assert mine.cookie == info.get("cookie", 0)
    assert mine.idle_timeout == int(info.get("idle_timeout", 0))
    assert mine.hard_timeout == int(info.get("hard_timeout", 0))
    kvs = [kv for kv in theirs.match_kv if kv.key != "priority"]
    assert mine.priority == theirs.match.get("priority", 32768)
    assert [k for k, _ in mine.match] == [kv.key for kv in kvs]
    for (key, text), kv in zip(mine.match, kvs, strict=True):
        field = offields.lookup(key)
        if field is None or field.kind in (offields.K_PORT, offields.K_CT_STATE,
                                           offields.K_TCP_FLAGS):
            continue
        value, mask = offields.parse_value(field, text)
        their_value, their_mask = _ovs_int_mask(kv.value)
        full = (1 << field.nbits) - 1
        if field.kind == offields.K_DL_VLAN:
            continue
        assert (value, mask) == (their_value & (their_mask if their_mask is not None else full),
                                 their_mask if their_mask is not None else full), (key, text)
    acts = A.parse_actions(mine.actions)
    their_acts = theirs.actions_kv
    assert len(acts) == len(their_acts)
    for a, kv in zip(acts, their_acts, strict=True):
        expected = _ACTION_KEYS.get(type(a))
        if expected is not None:
            assert kv.key == expected, (a, kv.key)
        if isinstance(a, A.Conjunction):
            assert (a.id, a.clause, a.n_clauses) == (kv.value["id"], kv.value["k"],
                                                     kv.value["n"])
        if isinstance(a, A.Resubmit):
            assert a.table == kv.value.get("table")
        if isinstance(a, A.Load):
            assert a.value == kv.value["value"]
        if isinstance(a, A.Learn):
            opts = {k: v for d in kv.value for k, v in d.items()}
            assert a.table == opts["table"] and a.priority == opts.get("priority", 32768)


@given(flows())
@settings(max_examples=200, deadline=None)
def test_agrees_with_ovs_flow_on_generated_flows(flow: Flow) -> None:
    assert_agrees_with_ovs_flow(format_flow(flow))


DUMPS = sorted(DATA.glob("seed-*.txt"))


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.stem)
def test_agrees_with_ovs_flow_on_real_dumps(path: Path) -> None:
    lines = [ln for ln in path.read_text().splitlines()
             if ln.strip() and "_FLOW reply" not in ln and not ln.startswith("#")]
    assert len(lines) == len(parse_flows(path.read_text(), source=str(path))) >= 38
    for line in lines:
        assert_agrees_with_ovs_flow(line.strip())


def test_neutron_add_flows_agree_with_ovs_flow() -> None:
    for text in (BR_INT_FLOWS, BR_TUN_FLOWS, BR_EX_FLOWS):
        for line in text.strip().splitlines():
            assert_agrees_with_ovs_flow(line)


# -- dump formats: the same bridges behave the same whatever dump they were read from -----------


def _leaves(visit: Any) -> list[tuple[str, str, str | None, Any]]:
    out = []
    for e in visit.exits:
        if e.next is not None:
            out.extend(_leaves(e.next))
        else:
            out.append((visit.bridge, e.kind, e.port, e.packet))
    return out


def _split_dump(text: str) -> dict[str, tuple[Flow, ...]]:
    """The dump files hold each bridge's dump after a ``# BRIDGE`` comment line."""
    blocks: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            cur = blocks.setdefault(line[2:].strip(), [])
        else:
            cur.append(line)
    return {n: parse_flows("\n".join(b)) for n, b in blocks.items()}


PACKETS = [
    ("qvo5e1f0d1c-8a", ipv4(VM2_MAC, "fa:16:3e:00:00:01", VM2_IP, "8.8.8.8")),
    ("qvoaf305168-66", ipv4(VM1_MAC, "fa:16:3e:00:00:01", VM1_IP, "8.8.8.8")),
    ("qvoaf305168-66", arp_request(VM1_MAC, VM1_IP, "192.168.100.1")),
]


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.stem)
def test_dumps_trace_like_the_original_flows(path: Path) -> None:
    by_bridge = _split_dump(path.read_text())
    originals = seed_bridges()
    dumped = [OvsBridge(b.name, b.ports, by_bridge[b.name]) for b in originals]
    for in_port, pkt in PACKETS:
        want = _leaves(OpenFlowEngine(originals).run("br-int", in_port, pkt, OpenFlowState()))
        got = _leaves(OpenFlowEngine(dumped).run("br-int", in_port, pkt, OpenFlowState()))
        assert got == want


# -- synonyms and normalisation ----------------------------------------------------------------


SAME = [
    ("dl_src=fa:16:3e:00:00:01", "eth_src=fa:16:3e:00:00:01"),
    ("dl_src=fa:16:3e:00:00:01", "NXM_OF_ETH_SRC=fa:16:3e:00:00:01"),
    ("ip,nw_src=10.0.0.0/24", "ip,ip_src=10.0.0.0/255.255.255.0"),
    ("ip,nw_src=10.0.0.5/24", "dl_type=0x0800,nw_src=10.0.0.0/24"),
    ("tun_id=0x10050", "tunnel_id=65616"),
    ("reg6=0x5/0xffff", "NXM_NX_REG6=0x5/0xffff"),
    ("dl_vlan=5", "vlan_tci=0x1005/0x1fff"),
    ("dl_vlan=0xffff", "vlan_tci=0x0000/0x1fff"),
    ("dl_vlan=5,dl_vlan_pcp=3", "vlan_tci=0x7005/0xffff"),
    ("vlan_vid=0x1005", "dl_vlan=5"),
    ("arp,nw_src=10.0.0.1", "arp,arp_spa=10.0.0.1"),
    ("arp,nw_proto=2", "arp,arp_op=2"),
    ("icmp,tp_src=8", "icmp,icmp_type=8"),
    ("tcp,tp_dst=80", "ip,nw_proto=6,tcp_dst=80"),
    ("udp,tp_src=67", "dl_type=0x0800,nw_proto=17,udp_src=67"),
    ("icmp6,icmp_type=136,nd_target=fe80::1", "icmp6,icmpv6_type=136,nd_target=fe80::1"),
    ("tp_dst=80", ""),  # OVS ignores a field whose prerequisites are not met
    ("vlan_tci=0x1000/0x1000,nw_src=1.2.3.0/24", "vlan_tci=0x1000/0x1000"),
    ("ip,nw_tos=4", "ip,nw_tos=7"),  # only the DSCP bits of nw_tos are matched
    ("ct_state=+trk-est", "ct_state=0x20/0x22"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_synonyms_compile_to_the_same_match(a: str, b: str) -> None:
    pa = parse_flow(f"{a} actions=drop").match
    pb = parse_flow(f"{b} actions=drop").match
    assert compile_match(pa)[0] == compile_match(pb)[0]


def test_ports_by_name() -> None:
    ports = {"int-br-ex": 2, "patch-tun": 1}.get
    a = compile_match(parse_flow('in_port="int-br-ex" actions=drop').match, ports)[0]
    b = compile_match(parse_flow("in_port=2 actions=drop").match, ports)[0]
    c = compile_match(parse_flow("in_port=LOCAL actions=drop").match, ports)[0]
    assert a == b and c[0][1] == 0xFFFE
    with pytest.raises(SyntaxParseError, match="not a port of this bridge"):
        compile_match(parse_flow("in_port=qvo-nope actions=drop").match, ports, "br-int")


# -- errors ------------------------------------------------------------------------------------

BAD = [
    "table=0,priority=1,foo=3 actions=drop",
    "priority=1,nw_src=10.0.0.300 actions=drop",
    "priority=1,dl_src=fa:16:3e:00:00 actions=drop",
    "priority=70000 actions=drop",
    "table=300,priority=1 actions=drop",
    "priority=1,ip",
    "priority=1 actions=frobnicate:3",
    "priority=1 actions=resubmit(1)",
    "priority=1 actions=output:2,learn(table=20,NXM_OF_FOO[])",
    "priority=1 actions=ct(commit,zone=NXM_NX_REG6[0..15],bogus)",
    "priority=1 actions=load:0x1ffff->NXM_NX_REG0[0..15]",
    "priority=1 actions=move:NXM_OF_ETH_SRC[]->NXM_NX_REG0[]",
    "priority=1 actions=conjunction(1,3/2)",
    "priority=1,ct_state=+trk+bogus actions=drop",
    "priority=1,dl_type=0x0800,dl_type actions=drop",
    "cookie=0x1/0xff,priority=1 actions=drop",
    "priority=1,ip=1 actions=drop",
    "priority=1,reg0[0..3]=1 actions=drop",
]


def test_error_messages_name_file_line_and_fix() -> None:
    out = []
    for n, line in enumerate(BAD, 1):
        with pytest.raises(SyntaxParseError) as e:
            parse_flows("# comment\n\n" * 0 + "\n" * (n - 1) + line, source="br-int.flows")
        err = e.value
        assert err.source == "br-int.flows" and err.line == n and err.fix
        out.append(f"{line}\n  -> {err}\n")
    check_golden("ofctl/errors.txt", "".join(out))


def test_comments_headers_and_blank_lines_are_skipped() -> None:
    text = ("# br-int\n\nNXST_FLOW reply (xid=0x4):\n"
            " cookie=0x5, duration=1.5s, table=3, n_packets=7, n_bytes=9, priority=4 actions=drop\n"
            "OFPST_FLOW reply (OF1.3) (xid=0x2):\n"
            " cookie=0x0, duration=0.1s, table=0, n_packets=0, n_bytes=0, reset_counts "
            "priority=0 actions=NORMAL\n")
    assert parse_flows(text) == (Flow(3, 4, (), "drop", cookie=5),
                                 Flow(0, 0, (), "NORMAL", flags=("reset_counts",)))


def test_defaults_match_ovs() -> None:
    f = parse_flow("actions=")
    assert (f.table, f.priority, f.cookie, f.actions) == (0, 32768, 0, "drop")


def _agent_flows() -> list[Flow]:
    from neutrace import topology
    from neutrace.agents import program

    out: list[Flow] = []
    for path in sorted(REPO.glob("examples/*/cloud.yaml")):
        for host in program(topology.load(str(path))).hosts:
            for br in host.ovs_bridges:
                out.extend(br.flows)
    return out


def test_agents_flows_round_trip_and_agree_with_ovs_flow() -> None:
    flows = _agent_flows()
    assert len(flows) > 50
    for f in flows:
        line = format_flow(f)
        assert parse_flow(line) == f
        assert_agrees_with_ovs_flow(line)
