"""The OpenFlow engine on Neutron-shaped bridges (the seed's test-cmpt-02): the seed's two walks,
br-tun's learn() into table 20, NORMAL's MAC learning, VLAN handling, drops and limits."""

from __future__ import annotations

import pytest

from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.engines.results import BridgeVisit, ExitCause, OfExit
from neutrace.errors import SyntaxParseError
from neutrace.packet import arp_request, ipv4
from neutrace.render.fates import exit_reason
from neutrace.render.packets import packet_summary
from neutrace.render.steps import step_text
from neutrace.syntax.ofctl import parse_flows
from neutrace.trace import (
    FdbDecision,
    FdbStep,
    LimitKind,
    LimitStep,
    OutputProblem,
    OutputSkipped,
    TableLookup,
)
from tests.support.openflow_fixtures import (
    CMPT1_TUN_IP,
    CTRL_TUN_IP,
    LOCAL_TUN_IP,
    VM1_IP,
    VM1_MAC,
    VM2_IP,
    VM2_MAC,
    seed_bridges,
)

ROUTER_MAC = "fa:16:3e:00:00:01"


def leaves(visit: BridgeVisit) -> list[tuple[str, OfExit]]:
    """Every exit that is not a patch, with the bridge it happened in."""
    out: list[tuple[str, OfExit]] = []
    for e in visit.exits:
        if e.next is not None:
            out.extend(leaves(e.next))
        else:
            out.append((visit.bridge, e))
    return out


@pytest.fixture()
def engine() -> OpenFlowEngine:
    return OpenFlowEngine(seed_bridges(), host="test-cmpt-02")


def test_seed_vxlan_walk_floods_to_both_tunnels_and_br_ex_drops(engine: OpenFlowEngine) -> None:
    p = ipv4(VM2_MAC, ROUTER_MAC, VM2_IP, "8.8.8.8")
    visit = engine.run("br-int", "qvo5e1f0d1c-8a", p, OpenFlowState())
    kinds = {(b, e.kind, e.port) for b, e in leaves(visit)}
    assert kinds == {
        ("br-tun", "output", "vxlan-c0a8780b"),
        ("br-tun", "output", "vxlan-c0a87815"),
        ("br-ex", "drop", None),
        ("br-int", "output", "br-int"),  # LOCAL is a trunk port of every bridge: it gets a copy
    }
    # NORMAL pushed the access port's tag 1 on the way into br-tun
    patch = next(e for e in visit.exits if e.port == "patch-tun")
    assert patch.packet is not None and patch.packet.vlan_tci == 0x1001
    for b, e in leaves(visit):
        if e.kind == "output" and b == "br-tun":
            assert e.packet is not None
            assert e.packet.tun_id == 0x10050 and e.packet.vlan_tci == 0
            assert e.packet.tun_src == LOCAL_TUN_IP
            assert e.packet.tun_dst in (CTRL_TUN_IP, CMPT1_TUN_IP)
    drop = next(e for b, e in leaves(visit) if b == "br-ex")
    assert drop.cause is ExitCause.FLOW_DROPS and drop.table == 0
    assert drop.flow is not None and drop.flow.match_value("in_port") == "phy-br-ex"


def test_seed_flat_walk_strips_vlan_2_on_br_ex(engine: OpenFlowEngine) -> None:
    p = ipv4(VM1_MAC, ROUTER_MAC, VM1_IP, "8.8.8.8")
    visit = engine.run("br-int", "qvoaf305168-66", p, OpenFlowState())
    out = {(b, e.kind, e.port): e for b, e in leaves(visit)}
    assert ("br-tun", "drop", None) in out
    miss = out[("br-tun", "drop", None)]
    assert (miss.cause, miss.table) == (ExitCause.FLOW_DROPS, 22)
    eth3 = out[("br-ex", "output", "eth3")]
    assert eth3.packet is not None and eth3.packet.vlan_tci == 0
    assert eth3.packet.nw_src == VM1_IP


def test_table_miss_drop_names_bridge_and_table() -> None:
    br = OvsBridge("br-x", ports=(OvsPort("a", 1), OvsPort("b", 2)),
                   flows=parse_flows("table=0,priority=1,in_port=1 actions=resubmit(,5)"))
    visit = OpenFlowEngine([br]).run("br-x", "a", ipv4(VM1_MAC, VM2_MAC, "1.1.1.1", "2.2.2.2"),
                                     OpenFlowState())
    assert [e.kind for e in visit.exits] == ["drop"]
    assert (visit.exits[0].cause, visit.exits[0].table) == (ExitCause.TABLE_MISS, 5)
    lookups = [s for s in visit.steps if isinstance(s, TableLookup)]
    assert [(s.table, s.flow is not None, s.depth) for s in lookups] == [(0, True, 0),
                                                                           (5, False, 1)]


def test_br_tun_learn_then_unicast(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    # a frame from the controller's router arrives over VXLAN: table 10 learns it into table 20
    inbound = ipv4(ROUTER_MAC, VM2_MAC, "8.8.8.8", VM2_IP).with_(
        tun_id=0x10050, tun_src=CTRL_TUN_IP, tun_dst=LOCAL_TUN_IP)
    visit = engine.run("br-tun", "vxlan-c0a8780b", inbound, state)
    (learned,) = state.learned_flows("test-cmpt-02", "br-tun")
    f = learned.flow
    assert (f.table, f.priority, f.hard_timeout, f.cookie) == (20, 1, 300, 0x9b1c)
    assert dict(f.match) == {"dl_dst": ROUTER_MAC, "vlan_tci": "0x0001/0x0fff"}
    # decapsulated into br-int with the local VLAN 1, then NORMAL delivers (flooding: unknown dst)
    out = {e.port for _, e in leaves(visit) if e.kind == "output"}
    assert "qvo5e1f0d1c-8a" in out and "qvoaf305168-66" not in out
    # the reply now hits the learned flow: unicast to the one tunnel, tunnel id restored
    reply = ipv4(VM2_MAC, ROUTER_MAC, VM2_IP, "8.8.8.8")
    visit2 = engine.run("br-int", "qvo5e1f0d1c-8a", reply, state)
    outs = [(b, e) for b, e in leaves(visit2) if e.kind == "output"]
    assert [(b, e.port) for b, e in outs] == [("br-tun", "vxlan-c0a8780b")]
    assert outs[0][1].packet is not None and outs[0][1].packet.tun_id == 0x10050
    # br-int learned the router's MAC behind patch-tun: no copy to br-ex this time
    assert [e.port for e in visit2.exits] == ["patch-tun"]


def test_state_copy_is_independent(engine: OpenFlowEngine) -> None:
    state = OpenFlowState()
    cold = state.copy()
    engine.run("br-int", "qvo5e1f0d1c-8a", ipv4(VM2_MAC, ROUTER_MAC, VM2_IP, "8.8.8.8"), state)
    assert state.mac_table("test-cmpt-02", "br-int") == {(1, VM2_MAC): "qvo5e1f0d1c-8a"}
    assert cold.mac_table("test-cmpt-02", "br-int") == {}


def test_normal_access_port_drops_tagged_and_never_returns_to_in_port() -> None:
    br = OvsBridge("br0", ports=(OvsPort("p1", 1, tag=10), OvsPort("p2", 2, tag=10),
                                 OvsPort("p3", 3, tag=20), OvsPort("trunk", 4, trunks=(10,))),
                   flows=parse_flows("priority=0 actions=NORMAL"))
    eng = OpenFlowEngine([br])
    st = OpenFlowState()
    p = arp_request(VM1_MAC, "10.0.0.1", "10.0.0.2")
    v = eng.run("br0", "p1", p, st)
    got = {e.port: e.packet for e in v.exits}
    assert set(got) == {"p2", "trunk", "br0"}  # not p1 (input), not p3 (VLAN 20); br0 is LOCAL
    assert got["p2"] is not None and got["p2"].vlan_tci == 0
    assert got["trunk"] is not None and got["trunk"].vlan_tci == 0x100A
    tagged = eng.run("br0", "p2", p.with_vlan(10), st)
    assert [e.kind for e in tagged.exits] == ["drop"]
    why = tagged.exits[0].step
    assert tagged.exits[0].cause is ExitCause.NORMAL and isinstance(why, FdbStep)
    assert (why.decision, why.port, why.vlan, why.tag) == (
        FdbDecision.ACCESS_TAGGED_DROP, "p2", 10, 10)
    # unicast back to the learned port; from the learned port itself: dropped
    back = eng.run("br0", "trunk", ipv4(VM2_MAC, VM1_MAC, "10.0.0.2", "10.0.0.1").with_vlan(10),
                   st)
    assert [(e.kind, e.port) for e in back.exits] == [("output", "p1")]
    loop = eng.run("br0", "p1", ipv4(VM2_MAC, VM1_MAC, "10.0.0.2", "10.0.0.1"), st)
    assert [e.kind for e in loop.exits] == ["drop"]
    why = loop.exits[0].step
    assert isinstance(why, FdbStep) and why.decision is FdbDecision.INPUT_PORT_DROP


def test_resubmit_depth_limit() -> None:
    br = OvsBridge("br0", ports=(OvsPort("p1", 1),),
                   flows=parse_flows("table=0 actions=resubmit(,1)\ntable=1 actions=resubmit(,0)"))
    v = OpenFlowEngine([br]).run("br0", "p1", ipv4(VM1_MAC, VM2_MAC, "1.1.1.1", "2.2.2.2"),
                                 OpenFlowState())
    assert [e.kind for e in v.exits] == ["limit"]
    # as OVS counts: only the resubmit back to table 0 (not after the table asking) deepens,
    # so 64 levels take 128 nested resubmits (checked against ovs-vswitchd 3.1)
    assert max(s.depth for s in v.steps if s.kind == "table") == 128
    limit = v.exits[0].step
    assert isinstance(limit, LimitStep) and (limit.limit, limit.bound) == (LimitKind.DEPTH, 64)


def test_resubmit_to_later_tables_is_not_deeper() -> None:
    """A chain of resubmits (or goto_table) to ever later tables never meets MAX_DEPTH."""
    text = "\n".join(f"table={t} actions=resubmit(,{t + 1})" for t in range(100))
    br = OvsBridge("br0", ports=(OvsPort("p1", 1), OvsPort("p2", 2)),
                   flows=parse_flows(text + "\ntable=100 actions=output:2"))
    v = OpenFlowEngine([br]).run("br0", "p1", ipv4(VM1_MAC, VM2_MAC, "1.1.1.1", "2.2.2.2"),
                                 OpenFlowState())
    assert [(e.kind, e.port) for e in v.exits] == [("output", "p2")]


def test_resubmit_port_is_the_input_port_of_the_lookup_only() -> None:
    """``resubmit(2,1)`` looks table 1 up with in_port=2; the flow's actions see in_port=1
    again (``output:in_port`` goes back to p1, a match on in_port=1 in table 2 hits)."""
    br = OvsBridge("br0", ports=(OvsPort("p1", 1), OvsPort("p2", 2), OvsPort("p3", 3)),
                   flows=parse_flows("table=0,in_port=1 actions=resubmit(2,1)\n"
                                     "table=1,in_port=2 actions=IN_PORT,resubmit(,2)\n"
                                     "table=2,in_port=1 actions=output:3\n"
                                     "table=2,in_port=2 actions=output:2"))
    v = OpenFlowEngine([br]).run("br0", "p1", ipv4(VM1_MAC, VM2_MAC, "1.1.1.1", "2.2.2.2"),
                                 OpenFlowState())
    assert sorted(e.port or "" for e in v.exits) == ["p1", "p3"]


def test_patch_loop_is_a_limit() -> None:
    a = OvsBridge("br-a", ports=(OvsPort("a-in", 1), OvsPort("a-b", 2, "patch",
                                                              options=(("peer", "b-a"),))),
                  flows=parse_flows("priority=1 actions=output:2\n"
                                    "priority=2,in_port=2 actions=IN_PORT"))
    b = OvsBridge("br-b", ports=(OvsPort("b-a", 1, "patch", options=(("peer", "a-b"),)),),
                  flows=parse_flows("actions=IN_PORT"))
    v = OpenFlowEngine([a, b]).run("br-a", "a-in", ipv4(VM1_MAC, VM2_MAC, "1.1.1.1", "2.2.2.2"),
                                   OpenFlowState())
    node: BridgeVisit | None = v
    kinds = []
    while node is not None:
        kinds.append(node.exits[0].kind)
        node = node.exits[0].next
    assert kinds[-1] == "limit" and set(kinds[:-1]) == {"patch"}


def test_unknown_port_name_in_a_match_is_an_input_error() -> None:
    br = OvsBridge("br-x", ports=(OvsPort("a", 1),),
                   flows=parse_flows("table=3, priority=2,in_port=qvo-gone actions=drop"))
    with pytest.raises(SyntaxParseError) as e:
        OpenFlowEngine([br])
    assert str(e.value) == ("br-x: table=3, priority=2: in_port=qvo-gone: bridge br-x has no "
                            "port 'qvo-gone' (fix: use one of its ports: a, br-x)")


def test_output_to_a_missing_port_is_not_an_exit_and_explains() -> None:
    br = OvsBridge("br-x", ports=(OvsPort("a", 1),), flows=parse_flows("actions=output:9"))
    v = OpenFlowEngine([br]).run("br-x", "a", ipv4(VM1_MAC, VM2_MAC, "1.1.1.1", "2.2.2.2"),
                                 OpenFlowState())
    assert [e.kind for e in v.exits] == ["drop"]
    assert any(isinstance(s, OutputSkipped) and s.problem is OutputProblem.NONEXISTENT_PORT
               for s in v.steps)


def test_ignored_match_fields_names_unmet_prerequisites() -> None:
    from neutrace.engines.openflow import ignored_match_fields

    (a, b, c) = parse_flows("tp_dst=80 actions=drop\nudp,tp_dst=80 actions=drop\n"
                            "vlan_tci=0x1000/0x1000,nw_src=10.0.0.0/8,arp_op=1 actions=drop")
    assert ignored_match_fields(a) == ("tp_dst",)
    assert ignored_match_fields(b) == ()
    assert ignored_match_fields(c) == ("nw_src", "arp_op")


def _dump(visit: BridgeVisit, indent: str = "") -> str:
    out = [f"{indent}bridge {visit.bridge} <- {visit.in_port}: {packet_summary(visit.packet)}"]
    for s in visit.steps:
        changes = f"  [{'; '.join(map(str, s.changes))}]" if s.changes else ""
        out.append(f"{indent}  {'  ' * s.depth}{s.kind}: {step_text(s)}{changes}")
    text = "\n".join(out) + "\n"
    for e in visit.exits:
        where = f" {e.port}" if e.port else ""
        what = f" {packet_summary(e.packet)}" if e.packet is not None and e.next is None else ""
        reason = exit_reason(visit.bridge, e)
        text += f"{indent}  => {e.kind}{where}{what}{(' (' + reason + ')') if reason else ''}\n"
        if e.next is not None:
            text += _dump(e.next, indent + "    ")
    return text


@pytest.mark.parametrize("name", ["vxlan-cold", "flat-cold", "tunnel-ingress-learn"])
def test_seed_walk_steps_golden(engine: OpenFlowEngine, name: str) -> None:
    from tests.support.golden import check_golden

    state = OpenFlowState()
    if name == "vxlan-cold":
        v = engine.run("br-int", "qvo5e1f0d1c-8a", ipv4(VM2_MAC, ROUTER_MAC, VM2_IP, "8.8.8.8"),
                       state)
    elif name == "flat-cold":
        v = engine.run("br-int", "qvoaf305168-66", ipv4(VM1_MAC, ROUTER_MAC, VM1_IP, "8.8.8.8"),
                       state)
    else:
        v = engine.run("br-tun", "vxlan-c0a8780b", ipv4(ROUTER_MAC, VM2_MAC, "8.8.8.8", VM2_IP)
                       .with_(tun_id=0x10050, tun_src=CTRL_TUN_IP, tun_dst=LOCAL_TUN_IP), state)
    check_golden(f"openflow/seed-{name}.txt", _dump(v))


def test_clone_rewrites_do_not_last() -> None:
    """A rewrite inside ``clone(...)`` changes the clone's copy only: the packet after it and
    the final flow are as before (OVS's ``Final flow`` of "ofproto-dpif - clone action")."""
    from neutrace.render.ofproto import final_packet

    br = OvsBridge("br0", ports=(OvsPort("p1", 1), OvsPort("p2", 2), OvsPort("p3", 3)),
                   flows=parse_flows("in_port=1,ip actions=clone(set_field:192.168.4.4->ip_dst,"
                                     "output:2),resubmit(,1)\n"
                                     "table=1 actions=set_field:10.9.9.9->ip_src,output:3"))
    p = ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.2")
    v = OpenFlowEngine([br]).run("br0", "p1", p, OpenFlowState())
    got = {e.port: e.packet for e in v.exits}
    assert got["p2"] is not None and (got["p2"].nw_src, got["p2"].nw_dst) == ("10.0.0.1",
                                                                              "192.168.4.4")
    assert got["p3"] is not None and (got["p3"].nw_src, got["p3"].nw_dst) == ("10.9.9.9",
                                                                              "10.0.0.2")
    final, _ = final_packet(v)
    assert (final.nw_src, final.nw_dst) == ("10.9.9.9", "10.0.0.2")
