"""NORMAL and the port VLAN modes as OVS 3.1's ``xlate_normal`` has them (access, trunk,
native-tagged, native-untagged, dot1q-tunnel with cvlans, priority tags) and the OpenFlow port
config flags (NO_FLOOD, NO_FWD). The same cases agree with real ovs-vswitchd in OVS's own
testsuite replay ("ofproto-dpif - VLAN handling", "output/flood flags")."""

from __future__ import annotations

from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.packet import Packet
from neutrace.syntax.ofctl import parse_flows
from neutrace.trace import OutputProblem, OutputSkipped

SRC = "50:54:00:00:00:01"
BCAST = "ff:ff:ff:ff:ff:ff"

PORTS = (
    OvsPort("p1", 1, trunks=(10, 12)),
    OvsPort("p2", 2, tag=10),
    OvsPort("p5", 5, tag=10, vlan_mode="native-tagged"),
    OvsPort("p7", 7, tag=12, vlan_mode="native-untagged"),
    OvsPort("p9", 9, tag=10, vlan_mode="dot1q-tunnel"),
    OvsPort("p10", 10, tag=10, vlan_mode="dot1q-tunnel", cvlans=(10, 12)),
    OvsPort("p11", 11, tag=12, other_config=(("priority-tags", "if-nonzero"),)),
)
BR = OvsBridge("br0", ports=PORTS, flows=parse_flows("actions=NORMAL"))


def flood(in_port: str, tci: int = 0) -> dict[str, int]:
    """The ports NORMAL floods a broadcast frame to, with the TCI of each copy."""
    frame = Packet(SRC, BCAST, 0xABCD, vlan_tci=tci)
    v = OpenFlowEngine([BR]).run("br0", in_port, frame, OpenFlowState())
    return {e.port: e.packet.vlan_tci for e in v.exits if e.kind == "output"
            and e.port is not None and e.packet is not None}


def test_native_tagged_port_gives_untagged_frames_its_vlan() -> None:
    # VLAN 10 inside: tagged on the trunk, the native-tagged port and the LOCAL trunk; not on
    # the native-untagged port of VLAN 12 (which trunks every VLAN but 0: tagged 10); untagged
    # on the access port and the dot1q-tunnel port (its customer tag is none); not on p10,
    # whose cvlans do not include "no tag"
    assert flood("p5") == {"p1": 0x100A, "p2": 0, "p7": 0x100A, "p9": 0, "br0": 0x100A}


def test_native_untagged_port_sends_its_own_vlan_untagged() -> None:
    got = flood("p1", 0x100C)  # VLAN 12 on the trunk
    assert got["p7"] == 0 and got["p11"] == 0 and "p2" not in got
    assert flood("p1", 0x100A)["p7"] == 0x100A


def test_dot1q_tunnel_pushes_its_service_vlan() -> None:
    # a customer frame of VLAN 12 into the VLAN 10 tunnel: the copies that keep the outer tag
    # show VLAN 10 (the engine's packets show the outer tag); the other tunnel port of VLAN 10
    # with cvlans 10,12 pops it and sends the customer's VLAN 12 tag; the access port of VLAN 10
    # does not take a frame with a second tag
    got = flood("p9", 0x100C)
    assert got == {"p1": 0x100A, "p5": 0x100A, "p10": 0x100C, "p7": 0x100A, "br0": 0x100A}


def test_dot1q_tunnel_cvlans_filter_input() -> None:
    assert flood("p10", 0x100B) == {}  # VLAN 11 is not one of p10's cvlans
    assert "p9" in flood("p10", 0x100A)


def test_priority_tags_keep_the_pcp() -> None:
    # VLAN 12 with priority 5 from the trunk: p11 (access, priority-tags=if-nonzero) sends a
    # priority tag (VLAN 0, PCP 5); without a priority the frame leaves untagged
    assert flood("p1", 0xB00C)["p11"] == 0xB000
    assert flood("p1", 0x100C)["p11"] == 0


def test_no_flood_and_no_forward_port_config() -> None:
    br = OvsBridge("br1", ports=(OvsPort("a", 1), OvsPort("b", 2, config=("NO_FLOOD",)),
                                 OvsPort("c", 3, config=("NO_FWD",)), OvsPort("d", 4)),
                   flows=parse_flows("in_port=1 actions=NORMAL\nin_port=4 actions=FLOOD\n"
                                     "in_port=2 actions=ALL\nin_port=3 actions=output:4,output:3"
                                     ))
    eng = OpenFlowEngine([br])
    frame = Packet(SRC, BCAST, 0xABCD)

    def outs(port: str) -> set[str]:
        v = eng.run("br1", port, frame, OpenFlowState())
        return {e.port or "" for e in v.exits if e.kind == "output"}

    assert outs("a") == {"d", "br1"}  # NORMAL: not the NO_FLOOD port, not the NO_FWD one
    assert outs("d") == {"a", "br1"}  # FLOOD: the same
    assert outs("b") == {"a", "d", "br1"}  # ALL takes NO_FLOOD ports (b is the input port)
    v = eng.run("br1", "c", frame, OpenFlowState())
    assert {e.port for e in v.exits if e.kind == "output"} == {"d"}
    assert not any(isinstance(s, OutputSkipped) and s.problem is OutputProblem.NO_FORWARD
                   for s in v.steps)
    v = eng.run("br1", "a", frame, OpenFlowState())
    assert any(isinstance(s, OutputSkipped) and s.problem is OutputProblem.NO_FORWARD
               and s.port == "c" for s in v.steps)


def test_mirrors_copy_selected_packets_once() -> None:
    """A mirror of p1's input to p3, and one flooding everything on VLAN 500 (OVS's "mirroring,
    select_src" and "multiple VLAN output mirrors"): each copies once; the output port of a
    mirror takes no input and is not flooded to."""
    from neutrace.dataplane import OvsMirror

    ports = (OvsPort("p1", 1, tag=0), OvsPort("p2", 2, tag=500), OvsPort("p3", 3),
             OvsPort("br2", 65534, "internal", tag=0))
    flows = parse_flows("actions=NORMAL")
    frame = Packet(SRC, BCAST, 0xABCD)

    def outs(mirrors: tuple[OvsMirror, ...], in_port: str = "p1") -> list[tuple[str, int]]:
        br = OvsBridge("br2", ports=ports, flows=flows, mirrors=mirrors)
        v = OpenFlowEngine([br]).run("br2", in_port, frame, OpenFlowState())
        return sorted((e.port or "", e.packet.vlan_tci) for e in v.exits
                      if e.kind == "output" and e.packet is not None)

    src = OvsMirror("m", select_src_port=("p1",), output_port="p3")
    assert outs((src,)) == [("br2", 0), ("p3", 0)]  # p3 (the mirror's port) is not flooded to
    assert outs((src,), "p3") == []  # reserved for mirroring: no lookup at all
    vlan = OvsMirror("v", select_all=True, output_vlan=500)
    # the flood on VLAN 0 reaches the trunk p3 untagged; the mirror adds p2 and p3 on VLAN 500
    assert outs((vlan,)) == [("br2", 0), ("p2", 0), ("p3", 0), ("p3", 0x11F4)]


def test_ecn_rewrites_leave_the_tos_alone() -> None:
    """Loading the IP ECN bits changes nw_ecn, not the DSCP bits a Packet's nw_tos holds."""
    from neutrace.packet import ipv4

    br = OvsBridge("br3", ports=(OvsPort("a", 1), OvsPort("b", 2)), flows=parse_flows(
        "ip actions=load:1->NXM_NX_IP_ECN[],set_field:2->ip_ecn,resubmit(,1)\n"
        "table=1,ip,nw_ecn=2 actions=output:2"))
    pkt = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1", "10.0.0.2").with_(
        nw_tos=0x20)
    v = OpenFlowEngine([br]).run("br3", "a", pkt, OpenFlowState())
    assert [(e.port, e.packet.nw_tos) for e in v.exits if e.packet is not None] == [("b", 0x20)]


def test_generate_learns_before_the_lookup() -> None:
    """A frame addressed to its own source MAC: the datapath (and ofproto/trace -generate)
    learns first and drops it at the input port; plain ofproto/trace floods it."""
    br = OvsBridge("br4", ports=(OvsPort("a", 1), OvsPort("b", 2)),
                   flows=parse_flows("actions=NORMAL"))
    frame = Packet(SRC, SRC, 0xABCD)
    eng = OpenFlowEngine([br])
    assert [e.kind for e in eng.run("br4", "a", frame, OpenFlowState()).exits] == ["drop"]
    plain = eng.run("br4", "a", frame, OpenFlowState(), generate=False)
    assert sorted(e.port or "" for e in plain.exits) == ["b", "br4"]


def test_stp_port_states() -> None:
    """A port STP/RSTP does not forward on gets no output (ALL aside) and, unless it learns,
    takes no input (OVS's "STP - dummy interface", "RSTP - dummy interface")."""
    br = OvsBridge("br5", ports=(OvsPort("a", 1), OvsPort("b", 2, stp_state="discarding"),
                                 OvsPort("c", 3, stp_state="learning")),
                   flows=parse_flows("in_port=1 actions=output:2,output:3,FLOOD\n"
                                     "in_port=3 actions=ALL\nin_port=2 actions=output:1"))
    eng = OpenFlowEngine([br])
    frame = Packet(SRC, BCAST, 0xABCD)

    def outs(port: str) -> list[str]:
        v = eng.run("br5", port, frame, OpenFlowState())
        return sorted(e.port or "" for e in v.exits if e.kind == "output")

    assert outs("a") == ["br5"]  # output:2/3 and FLOOD skip b and c: only LOCAL
    assert outs("c") == ["a", "b", "br5"]  # a learning port receives; ALL does not check STP
    assert outs("b") == []  # discarding: no lookup


def test_ip_fragments() -> None:
    """nw_frag matches and OVS's fragment handling modes ("ofproto-dpif - fragment handling"):
    frags=normal looks a fragment up without L4 ports (the packet keeps them), nx-match with
    them, drop drops it before any flow."""
    from dataclasses import replace

    from neutrace.app.ofproto_trace import start_point, trace
    from neutrace.syntax.ofctl import parse_flow

    br = OvsBridge("br6", ports=(OvsPort("a", 1), OvsPort("b", 2), OvsPort("c", 3),
                                 OvsPort("d", 4)),
                   flows=parse_flows("priority=5,tcp,nw_frag=later actions=output:4\n"
                                     "priority=4,tcp,tp_dst=80 actions=output:2\n"
                                     "priority=3,tcp,tp_dst=0 actions=output:3"))
    assert ("nw_frag", "later") in parse_flow("tcp,nw_frag=later actions=drop").match

    def out(mode: str, frag: str) -> list[tuple[str, int]]:
        b = replace(br, frag_mode=mode)
        micro = "in_port=a,tcp,tp_src=1,tp_dst=80" + (f",nw_frag={frag}" if frag else "")
        v = trace([b], start_point([b], micro))
        return [(e.port or "", e.packet.tp_dst) for e in v.exits if e.packet is not None]

    assert out("normal", "") == [("b", 80)]
    assert out("normal", "first") == [("c", 80)]  # looked up with tp_dst=0, sent with 80
    assert out("normal", "later") == [("d", 80)]
    assert out("nx-match", "first") == [("b", 80)]
    assert out("drop", "first") == []
