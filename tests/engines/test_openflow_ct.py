# ruff: noqa: E501
"""ct() and conjunctive matches in the OpenFlow engine, on flows shaped like Neutron's
openvswitch firewall driver (tables 71/72 egress, ct zones from reg6, commit on accept), with a
conntrack kept in `OpenFlowState` across traces."""

from __future__ import annotations

import pytest

from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.engines.results import BridgeVisit
from neutrace.packet import ipv4
from neutrace.syntax.ofctl import parse_flows
from neutrace.syntax.offields import CT_STATE_FLAGS
from neutrace.trace import CtResume
from tests.support.firewall_bridge import A_IP, A_MAC, B_IP, B_MAC, BRIDGE, tcp


def outputs(v: BridgeVisit) -> list[str]:
    return [e.port or "" for e in v.exits if e.kind == "output"]


NEW, EST, RPL, TRK, SNAT = (CT_STATE_FLAGS[f] for f in ("new", "est", "rpl", "trk", "snat"))


def resumed(v: BridgeVisit) -> list[int]:
    """The ct_state of each recirculation after ct(table=...)."""
    return [s.state for s in v.steps if isinstance(s, CtResume)]


@pytest.fixture()
def engine() -> OpenFlowEngine:
    return OpenFlowEngine([BRIDGE], host="cmpt")


def test_new_connection_is_committed_and_the_reply_is_established(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    syn = tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 22)
    v = engine.run("br-int", "tapa", syn, state)
    assert outputs(v) == ["tapb"]
    assert state.connections("cmpt") == 2  # both directions of one connection, zone 1
    assert resumed(v) == [NEW | TRK]
    # the committed ct_mark is seen by the pipeline on the next packet of the connection
    reply = tcp(B_MAC, A_MAC, B_IP, A_IP, 22, 40000)
    r = engine.run("br-int", "tapb", reply, state)
    assert outputs(r) == ["tapa"]
    assert resumed(r) == [EST | RPL | TRK]
    again = engine.run("br-int", "tapa", syn, state)
    assert outputs(again) == ["tapb"]
    marks = [c for s in again.steps for c in s.changes if c.field == "ct_mark"]
    assert marks and marks[0].after == 7
    assert resumed(again) == [EST | TRK]


def test_new_connection_without_a_rule_is_dropped(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    v = engine.run("br-int", "tapa", tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 80), state)
    assert [e.kind for e in v.exits] == ["drop"]
    assert v.exits[0].table == 72
    assert state.connections() == 0
    # an unsolicited "reply" is a new connection too: dropped, never established
    r = engine.run("br-int", "tapb", tcp(B_MAC, A_MAC, B_IP, A_IP, 80, 40000), state)
    assert [e.kind for e in r.exits] == ["drop"]


def test_zones_are_separate(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    engine.run("br-int", "tapa", tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 22), state)
    # the reply's 5-tuple coming from a port in zone 2 finds no connection there: it is new
    # (and the reg5=0x3 rule commits it, with SNAT, as a second connection)
    r = engine.run("br-int", "tapc", tcp(B_MAC, A_MAC, B_IP, A_IP, 22, 40000), state)
    assert NEW | TRK in resumed(r)
    assert outputs(r) == ["out"]
    assert state.connections() == 4


def test_snat_and_its_reverse(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    first = engine.run("br-int", "tapc", tcp(A_MAC, B_MAC, A_IP, "8.8.8.8", 40000, 443), state)
    (exit_,) = [e for e in first.exits if e.kind == "output"]
    # ct(commit,nat(src=...)) translates the packet it commits, as OVS's datapath does
    assert exit_.packet is not None and exit_.packet.nw_src == "192.168.100.102"
    assert exit_.packet.nw_dst == "8.8.8.8" and exit_.packet.tp_src == 40000
    assert state.connections() == 2


def test_state_copy_keeps_conntrack_independent(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    cold = state.copy()
    engine.run("br-int", "tapa", tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 22), state)
    assert state.connections() == 2 and cold.connections() == 0
    warm = state.copy()
    r = engine.run("br-int", "tapb", tcp(B_MAC, A_MAC, B_IP, A_IP, 22, 40000), warm)
    assert outputs(r) == ["tapa"]
    r_cold = engine.run("br-int", "tapb", tcp(B_MAC, A_MAC, B_IP, A_IP, 22, 40000), cold)
    assert [e.kind for e in r_cold.exits] == ["drop"]


def test_repeated_trace_is_cached_only_when_nothing_changed(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    syn = tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 22)
    first = engine.run("br-int", "tapa", syn, state)  # commits: state changed
    second = engine.run("br-int", "tapa", syn, state)  # est now: a different trace
    assert first != second
    third = engine.run("br-int", "tapa", syn, state)
    assert third is second or third == second


CONJ = """
table=0, priority=20,tcp,nw_src=10.0.0.1 actions=conjunction(7,1/2)
table=0, priority=20,tcp,nw_src=10.0.0.2 actions=conjunction(7,1/2),conjunction(8,1/2)
table=0, priority=20,tcp,tp_dst=80 actions=conjunction(7,2/2)
table=0, priority=20,tcp,tp_dst=22 actions=conjunction(8,2/2)
table=0, priority=20,conj_id=7,tcp actions=output:2
table=0, priority=20,conj_id=8,tcp actions=output:3
table=0, priority=30,tcp,nw_src=10.0.0.2,tp_dst=22 actions=output:4
table=0, priority=1 actions=drop
"""


@pytest.mark.parametrize(("src", "dport", "out"), [
    ("10.0.0.1", 80, ["p2"]), ("10.0.0.2", 80, ["p2"]), ("10.0.0.1", 22, []),
    ("10.0.0.2", 22, ["p4"]),  # a higher-priority ordinary flow beats the conjunction
    ("10.0.0.3", 80, []),
])
def test_conjunctive_match(src: str, dport: int, out: list[str]) -> None:
    br = OvsBridge("br0", ports=tuple(OvsPort(f"p{i}", i) for i in range(1, 5)),
                   flows=parse_flows(CONJ))
    v = OpenFlowEngine([br]).run("br0", "p1", tcp(A_MAC, B_MAC, src, B_IP, 1234, dport),
                                 OpenFlowState())
    assert outputs(v) == out


def test_snat_reply_is_translated_back_by_ct_nat() -> None:
    flows = parse_flows(
        "table=0, priority=10,in_port=1,ip actions=ct(commit,zone=5,nat(src=192.168.100.102)),"
        "output:2\n"
        "table=0, priority=10,in_port=2,ip actions=ct(table=1,zone=5,nat)\n"
        "table=1, priority=10,ct_state=+est+rpl,ip actions=output:1\n"
        "table=1, priority=1 actions=drop\n")
    br = OvsBridge("br0", ports=(OvsPort("in", 1), OvsPort("out", 2)), flows=flows)
    engine, state = OpenFlowEngine([br]), OpenFlowState()
    out = engine.run("br0", "in", tcp(A_MAC, B_MAC, A_IP, "8.8.8.8", 1234, 80), state)
    assert [(e.port, e.packet.nw_src if e.packet else "") for e in out.exits] == [
        ("out", "192.168.100.102")]
    back = engine.run("br0", "out", tcp(B_MAC, A_MAC, "8.8.8.8", "192.168.100.102", 80, 1234),
                      state)
    assert [(e.port, e.packet.nw_dst if e.packet else "") for e in back.exits] == [("in", A_IP)]
    assert resumed(back) == [EST | RPL | TRK | SNAT]
    # an unrelated packet to the NAT address is not a reply: no connection, dropped in table 1
    other = engine.run("br0", "out", tcp(B_MAC, A_MAC, "8.8.4.4", "192.168.100.102", 80, 1234),
                       state)
    assert [e.kind for e in other.exits] == ["drop"]


def test_same_match_and_priority_replaces_the_earlier_flow() -> None:
    flows = parse_flows(
        "table=0, priority=10,conj_id=1,ip actions=output:2\n"
        "table=0, priority=10,conj_id=2,ip actions=output:3\n"
        "table=0, priority=10,ip,nw_src=10.0.0.1 actions=conjunction(1,1/2)\n"
        "table=0, priority=10,ip,nw_src=10.0.0.1 actions=conjunction(2,1/2)\n"  # replaces it
        "table=0, priority=10,tcp,tp_dst=22 actions=conjunction(1,2/2)\n"
        "table=0, priority=10,udp,tp_dst=53 actions=conjunction(2,2/2)\n"
        "table=1, priority=5,ip actions=output:2\n"
        "table=1, priority=5,ip actions=output:3\n"  # an ordinary flow is replaced the same way
    )
    br = OvsBridge("br0", ports=tuple(OvsPort(f"p{i}", i) for i in range(1, 4)), flows=flows)
    engine = OpenFlowEngine([br])
    tcp22 = tcp(A_MAC, B_MAC, "10.0.0.1", B_IP, 1000, 22)
    assert outputs(engine.run("br0", "p1", tcp22, OpenFlowState())) == []
    udp53 = ipv4(A_MAC, B_MAC, "10.0.0.1", B_IP, proto=17, sport=1000, dport=53)
    assert outputs(engine.run("br0", "p1", udp53, OpenFlowState())) == ["p3"]
    br1 = OvsBridge("br1", ports=br.ports, flows=tuple(f for f in flows if f.table == 1))
    resub = OvsBridge("br1", ports=br.ports,
                      flows=(*br1.flows, *parse_flows("table=0 actions=resubmit(,1)")))
    assert outputs(OpenFlowEngine([resub]).run("br1", "p1", tcp22, OpenFlowState())) == ["p3"]


def test_ct_next_sets_each_recirculation_state() -> None:
    """``ofproto/trace --ct-next``: the ct_state of each recirculation after ct(table=N), in
    order, then trk,new (OVS 3.1's "conntrack - ofproto/trace")."""
    from neutrace.syntax.offields import ct_state_bits

    br = OvsBridge("br0", ports=(OvsPort("p1", 1), OvsPort("p2", 2), OvsPort("p3", 3)),
                   flows=parse_flows(
                       "table=0,ip actions=ct(table=1)\n"
                       "table=1,ip,ct_state=+trk+est actions=ct(table=2)\n"
                       "table=1,ip,ct_state=+trk+new actions=output:3\n"
                       "table=2,ip,ct_state=+trk+est actions=output:2\n"
                       "table=2,ip,ct_state=+trk+new actions=output:3"))
    pkt = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1", "10.0.0.2")
    eng = OpenFlowEngine([br])

    def ports(ct_next: tuple[int, ...] | None) -> list[str]:
        v = eng.run("br0", "p1", pkt, OpenFlowState(), ct_next=ct_next)
        return [e.port or "" for e in v.exits if e.kind == "output"]

    est = ct_state_bits("trk,est")
    assert est == ct_state_bits("+trk+est") == 0x22
    assert ports(None) == ["p3"]  # the engine's conntrack: a new connection
    assert ports((est, est)) == ["p2"]
    assert ports((est,)) == ["p3"]  # the second recirculation: trk,new
