"""The OpenFlow engine against real Open vSwitch (a private sandbox) on the semantics that are easy
to get wrong: NORMAL flooding with access ports and trunks, explicit outputs interleaved with VLAN
rewrites and resubmits, the seed's bridges across patch ports and VXLAN, and learn() (the flow
br-tun's table 10 adds to table 20, compared with the one OVS adds for a real packet)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from neutrace.backends.ovs_load import OvsTracer, delete_bridges, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState, compile_match
from neutrace.engines.results import BridgeVisit
from neutrace.packet import Packet, arp_request, ipv4
from neutrace.render.packets import packet_summary
from neutrace.syntax.ofctl import parse_flows
from tests.support.openflow_fixtures import VM1_IP, VM1_MAC, VM2_IP, VM2_MAC, seed_bridges

pytestmark = pytest.mark.ovs

Out = tuple[str, str, int, int, str, str, str, str, int, int, int]


def _key(bridge: str, port: str, p: Packet) -> Out:
    # the dummy datapath prints no set(tunnel(...)) for VXLAN ports: tun_id is checked elsewhere
    tun_id = 0 if port.startswith("vxlan-") else p.tun_id
    return (bridge, port, p.vlan_tci & 0x1FFF, tun_id, p.dl_src, p.dl_dst, p.nw_src, p.nw_dst,
            p.nw_ttl, p.tp_src, p.tp_dst)


def ours(visit: BridgeVisit) -> list[Out]:
    out: list[Out] = []
    for e in visit.exits:
        if e.next is not None:
            out.extend(ours(e.next))
        elif e.kind == "output" and e.port is not None and e.packet is not None:
            out.append(_key(visit.bridge, e.port, e.packet))
    return out


def theirs(tracer: OvsTracer, bridge: str, in_port: str, packet: Packet) -> list[Out]:
    tracer.fdb_flush()
    rt = tracer.trace(bridge, in_port, packet)
    return [_key(o.bridge, o.port, o.packet) for o in rt.outputs if o.pass_index == 0]


VLAN_BRIDGE = OvsBridge(
    "nt-vlan",
    ports=(OvsPort("a10", 1, tag=10), OvsPort("b10", 2, tag=10), OvsPort("c20", 3, tag=20),
           OvsPort("t1020", 4, trunks=(10, 20)), OvsPort("tall", 5)),
    flows=parse_flows("priority=0 actions=NORMAL"),
)
ORDER_BRIDGE = OvsBridge(
    "nt-order",
    ports=tuple(OvsPort(f"o{i}", i) for i in range(1, 7)) + (OvsPort("acc", 7, tag=9),),
    flows=parse_flows(
        "table=0, priority=10,ip,in_port=1 actions=output:2,mod_vlan_vid:5,resubmit(,1),"
        "output:3,mod_vlan_vid:6,strip_vlan,output:4,output:acc\n"
        "table=0, priority=10,in_port=6,dl_vlan=7 actions=resubmit(,2),output:5\n"
        "table=0, priority=0 actions=drop\n"
        "table=1, priority=1,ip actions=mod_dl_src:fa:16:3e:99:99:99,output:5,"
        "mod_nw_dst:10.9.9.9,output:6\n"
        "table=2, priority=5,dl_vlan=7 actions=mod_vlan_vid:8,resubmit(,3),output:1\n"
        "table=3, priority=5,dl_vlan=8 actions=strip_vlan,output:2\n"
        "table=3, priority=4 actions=output:3\n"
    ),
)


@pytest.fixture(scope="module")
def tracer(ovs_sandbox: OvsSandbox) -> Iterator[OvsTracer]:
    bridges = [VLAN_BRIDGE, ORDER_BRIDGE, *seed_bridges()]
    load_bridges(ovs_sandbox, bridges)
    try:
        with OvsTracer(ovs_sandbox) as t:
            yield t
    finally:
        delete_bridges(ovs_sandbox, [b.name for b in bridges])


ARP = arp_request(VM1_MAC, "10.0.0.1", "10.0.0.2")
UNICAST = ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.2")


@pytest.mark.parametrize(("in_port", "packet"), [
    ("a10", ARP), ("c20", ARP), ("t1020", ARP.with_vlan(20)), ("tall", ARP.with_vlan(10)),
    ("tall", ARP.with_vlan(30)), ("tall", ARP), ("t1020", ARP.with_vlan(30)),
    ("a10", ARP.with_vlan(10)), ("b10", UNICAST), ("tall", UNICAST.with_vlan(20)),
    ("a10", UNICAST.with_(dl_dst="01:80:c2:00:00:00")),  # STP's address: never forwarded
    ("a10", UNICAST.with_(dl_dst="01:00:0c:cc:cc:cc")),  # CDP's
    ("a10", UNICAST.with_(dl_dst="01:80:c2:00:00:10")),  # not reserved: flooded
])
def test_normal_flooding_with_tags(tracer: OvsTracer, in_port: str, packet: Packet) -> None:
    engine = OpenFlowEngine([VLAN_BRIDGE])
    got = ours(engine.run("nt-vlan", in_port, packet, OpenFlowState()))
    assert sorted(got) == sorted(theirs(tracer, "nt-vlan", in_port, packet))


@pytest.mark.parametrize(("in_port", "packet"), [
    ("o1", UNICAST), ("o1", UNICAST.with_vlan(3)), ("o6", UNICAST.with_vlan(7)),
    ("o2", UNICAST),
])
def test_output_order_with_rewrites_and_resubmits(tracer: OvsTracer, in_port: str,
                                                  packet: Packet) -> None:
    engine = OpenFlowEngine([ORDER_BRIDGE])
    got = ours(engine.run("nt-order", in_port, packet, OpenFlowState()))
    assert got == theirs(tracer, "nt-order", in_port, packet)  # same copies, same order


@pytest.mark.parametrize(("in_port", "packet"), [
    ("qvo5e1f0d1c-8a", ipv4(VM2_MAC, "fa:16:3e:00:00:01", VM2_IP, "8.8.8.8")),
    ("qvoaf305168-66", ipv4(VM1_MAC, "fa:16:3e:00:00:01", VM1_IP, "8.8.8.8")),
    ("qvoaf305168-66", arp_request(VM1_MAC, VM1_IP, "192.168.100.1")),
    ("qvoaf305168-66", arp_request(VM1_MAC, "192.168.100.99", "192.168.100.1")),  # spoofed
    ("qvo5e1f0d1c-8a", ipv4("fa:16:3e:de:ad:00", "fa:16:3e:00:00:01", VM2_IP, "8.8.8.8")),
])
def test_seed_bridges_like_ovs(tracer: OvsTracer, in_port: str, packet: Packet) -> None:
    engine = OpenFlowEngine(seed_bridges(), host="h")
    got = ours(engine.run("br-int", in_port, packet, OpenFlowState()))
    assert sorted(got) == sorted(theirs(tracer, "br-int", in_port, packet))


LEARN = ("learn(cookie=0x9b1c,table=20,priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],"
         "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
         "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[])")


def test_learn_adds_the_same_flow_as_ovs(ovs_sandbox: OvsSandbox) -> None:
    br = OvsBridge(
        "nt-learn", ports=(OvsPort("l1", 1), OvsPort("l2", 2)),
        flows=parse_flows(
            "table=0, priority=1,in_port=1 actions=set_field:0x10050->tun_id,mod_vlan_vid:1,"
            f"resubmit(,10)\ntable=10, priority=1 actions={LEARN},output:2\n"),
    )
    load_bridges(ovs_sandbox, [br])
    try:
        pkt = ipv4(ROUTER, VM2_MAC, "8.8.8.8", VM2_IP)
        frame = (Ether(src=pkt.dl_src, dst=pkt.dl_dst) / IP(src=pkt.nw_src, dst=pkt.nw_dst)
                 / ICMP())
        ovs_sandbox.appctl("netdev-dummy/receive", "l1", bytes(frame).hex())
        real = parse_flows(ovs_sandbox.ofctl("dump-flows", "--no-stats", "nt-learn", "table=20"))
        state = OpenFlowState()
        OpenFlowEngine([br], host="h").run("nt-learn", "l1", pkt, state)
        (mine,) = [lf.flow for lf in state.learned_flows("h", "nt-learn")]
        assert real == (mine,)  # the very flow OVS learned, as ovs-ofctl dumps it
    finally:
        delete_bridges(ovs_sandbox, ["nt-learn"])


ROUTER = "fa:16:3e:00:00:01"


NORMALISED = [
    "tp_dst=80", "udp,tp_src=67,tp_dst=68", "icmp,tp_src=8", "arp,nw_src=10.0.0.1,nw_proto=1",
    "vlan_tci=0x1000/0x1000,nw_src=1.2.3.0/24", "ip,nw_src=1.2.3.4/24", "dl_vlan=0xffff",
    "dl_vlan=5,dl_vlan_pcp=3", "icmp6,icmp_type=136,nd_target=fe80::1", "icmp6,icmp_type=135,"
    "nd_sll=fa:16:3e:00:00:01", "icmp6,icmp_type=136,nd_sll=fa:16:3e:00:00:01",
    "ipv6,nw_proto=6,tp_dst=22", "ip,nw_tos=7", "ct_state=+trk-est,ip", "arp,arp_op=2,nw_tos=4",
    "tcp,tcp_flags=+syn-ack", "dl_src=fa:16:3e:00:00:01/ff:ff:ff:00:00:00,ip,nw_dst=10.0.0.0/8",
    "in_port=1,tun_id=0x10050,reg6=0x5/0xffff,metadata=0x1",
]


def test_prerequisite_normalisation_like_ovs(ovs_sandbox: OvsSandbox) -> None:
    br = OvsBridge("nt-norm", ports=(OvsPort("n1", 1),), flows=tuple(
        parse_flows("\n".join(f"priority={100 + i},{m} actions=drop"
                              for i, m in enumerate(NORMALISED)))))
    load_bridges(ovs_sandbox, [br])
    try:
        dumped = {f.priority: f for f in parse_flows(
            ovs_sandbox.ofctl("dump-flows", "--no-stats", "--no-names", "nt-norm"))}
        for f in br.flows:
            assert compile_match(f.match)[0] == compile_match(dumped[f.priority].match)[0], (
                f.match, dumped[f.priority].match)
    finally:
        delete_bridges(ovs_sandbox, ["nt-norm"])


ACTIONS_BRIDGE = OvsBridge(
    "nt-acts",
    ports=tuple(OvsPort(f"x{i}", i) for i in range(1, 7)) + (OvsPort("xa", 7, tag=5),),
    flows=parse_flows(
        # conjunction: (nw_src in {10.0.0.1, 10.0.0.2}) and (tp_dst in {80, 443}) -> x5
        "table=0, priority=20,tcp,nw_src=10.0.0.1 actions=conjunction(7,1/2)\n"
        "table=0, priority=20,tcp,nw_src=10.0.0.2 actions=conjunction(7,1/2)\n"
        "table=0, priority=20,tcp,tp_dst=80 actions=conjunction(7,2/2)\n"
        "table=0, priority=20,tcp,tp_dst=443 actions=conjunction(7,2/2)\n"
        "table=0, priority=20,conj_id=7,tcp actions=output:5\n"
        "table=0, priority=10,tcp actions=resubmit(,1)\n"
        # registers, output:reg, resubmit with in_port
        "table=0, priority=10,udp actions=load:0x3->NXM_NX_REG0[],move:NXM_OF_IP_SRC[]->"
        "NXM_NX_REG1[],resubmit(,2)\n"
        "table=0, priority=10,icmp actions=dec_ttl,mod_nw_src:10.9.9.9,set_field:"
        "fa:16:3e:00:00:99->eth_dst,resubmit(4,3),IN_PORT\n"
        "table=0, priority=10,arp actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:6,"
        "pop_vlan,LOCAL,output:7\n"
        "table=0, priority=10,ip,nw_proto=47,vlan_tci=0x1000/0x1000 actions=set_field:4102->"
        "vlan_vid,output:6\n"
        "table=0, priority=0 actions=drop\n"
        "table=1, priority=1 actions=output:2\n"
        "table=2, priority=5,reg1=0x0a000001 actions=output:NXM_NX_REG0[]\n"
        "table=2, priority=1 actions=output:4\n"
        "table=3, priority=5,in_port=4 actions=output:3\n"
        "table=3, priority=1 actions=output:2\n"
    ),
)

TCP = ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", proto=6, sport=5555, dport=80)
UDP = ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", proto=17, sport=5555, dport=53)


@pytest.mark.parametrize("packet", [
    TCP, TCP.with_(tp_dst=443), TCP.with_(tp_dst=22), TCP.with_(nw_src="10.0.0.2"),
    TCP.with_(nw_src="10.0.0.3"), UDP, UDP.with_(nw_src="10.0.0.7"),
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9"), ARP,
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", ttl=1),  # dec_ttl: to the controller, stop
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", proto=47).with_vlan(3),
], ids=lambda p: f"{packet_summary(p)} ttl {p.nw_ttl}")
def test_actions_like_ovs(ovs_sandbox: OvsSandbox, packet: Packet) -> None:
    load_bridges(ovs_sandbox, [ACTIONS_BRIDGE])
    try:
        with OvsTracer(ovs_sandbox) as t:
            want = theirs(t, "nt-acts", "x1", packet)
        got = ours(OpenFlowEngine([ACTIONS_BRIDGE]).run("nt-acts", "x1", packet, OpenFlowState()))
        assert got == want
    finally:
        delete_bridges(ovs_sandbox, ["nt-acts"])


ARP_RESPONDER = OvsBridge(
    "nt-arpr",
    ports=(OvsPort("ar1", 1), OvsPort("ar2", 2)),
    flows=parse_flows(
        # br-tun's table 21 ARP responder (l2population), as the OVS agent writes it
        "table=0, priority=1,arp,dl_vlan=1,arp_tpa=10.0.0.5 actions=move:NXM_OF_ETH_SRC[]->"
        "NXM_OF_ETH_DST[],mod_dl_src:fa:16:3e:a1:b2:c3,load:0x2->NXM_OF_ARP_OP[],"
        "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
        "load:0xfa163ea1b2c3->NXM_NX_ARP_SHA[],load:0xa000005->NXM_OF_ARP_SPA[],IN_PORT\n"
        "table=0, priority=0 actions=output:2\n"
    ),
)


@pytest.mark.parametrize("packet", [
    arp_request(VM1_MAC, "10.0.0.9", "10.0.0.5").with_vlan(1),
    arp_request(VM1_MAC, "10.0.0.9", "10.0.0.6").with_vlan(1),
], ids=["answered", "not-answered"])
def test_arp_responder_like_ovs(ovs_sandbox: OvsSandbox, packet: Packet) -> None:
    load_bridges(ovs_sandbox, [ARP_RESPONDER])
    try:
        with OvsTracer(ovs_sandbox) as t:
            t.fdb_flush()
            real = [(o.port, o.packet) for o in t.trace("nt-arpr", "ar1", packet).outputs]
        visit = OpenFlowEngine([ARP_RESPONDER]).run("nt-arpr", "ar1", packet, OpenFlowState())
        mine = [(e.port, e.packet) for e in visit.exits if e.kind == "output"]
        assert [(p, q.arp_op, q.arp_sha, q.arp_spa, q.arp_tha, q.arp_tpa, q.dl_src, q.dl_dst,
                 q.vlan_tci) for p, q in mine if q is not None] == [
            (p, q.arp_op, q.arp_sha, q.arp_spa, q.arp_tha, q.arp_tpa, q.dl_src, q.dl_dst,
             q.vlan_tci) for p, q in real]
    finally:
        delete_bridges(ovs_sandbox, ["nt-arpr"])


def test_firewall_first_packets_like_ovs(ovs_sandbox: OvsSandbox) -> None:
    """ct() with recirculation: ofproto/trace resumes the pipeline as ct_state=new|trk, which is
    what a fresh conntrack gives for a connection's first packet."""
    from tests.support.firewall_bridge import A_IP, A_MAC, B_IP, B_MAC, tcp
    from tests.support.firewall_bridge import BRIDGE as FIREWALL

    bridge = OvsBridge("nt-fw", FIREWALL.ports, FIREWALL.flows)  # a name no other test uses
    load_bridges(ovs_sandbox, [bridge])
    try:
        with OvsTracer(ovs_sandbox) as t:
            for port, pkt in [("tapa", tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 22)),
                              ("tapa", tcp(A_MAC, B_MAC, A_IP, B_IP, 40000, 80)),
                              ("tapc", tcp(A_MAC, B_MAC, A_IP, "8.8.8.8", 40000, 443))]:
                t.fdb_flush()
                rt = t.trace("nt-fw", port, pkt)
                real = sorted(_key("nt-fw", o.port, o.packet) for o in rt.outputs)
                mine = sorted(ours(OpenFlowEngine([bridge]).run("nt-fw", port, pkt,
                                                                OpenFlowState())))
                if "nat(src=" in rt.text:
                    # the datapath's ct(commit,nat(...)) translates the packet; ofproto/trace's
                    # flow does not show it, the engine's output packet does
                    assert re.search(r"ct\(commit,zone=2,nat\(src=192\.168\.100\.102\)\),\d+$",
                                     rt.text.strip())
                    assert [m[6] for m in mine] == ["192.168.100.102"]
                    mine = [m[:6] + (pkt.nw_src,) + m[7:] for m in mine]
                assert mine == real, rt.text
    finally:
        delete_bridges(ovs_sandbox, ["nt-fw"])


MORE_ACTIONS = OvsBridge(
    "nt-more",
    ports=(OvsPort("m1", 1), OvsPort("m2", 2), OvsPort("m3", 3), OvsPort("ma", 4, tag=7)),
    flows=parse_flows(
        "table=0, priority=10,tcp actions=write_metadata:0x5/0xff,goto_table:1\n"
        "table=0, priority=10,udp actions=clone(mod_dl_dst:fa:16:3e:00:00:77,output:2),"
        "output:3,exit,output:4\n"
        "table=0, priority=10,icmp actions=FLOOD\n"
        "table=0, priority=10,arp actions=ALL\n"
        "table=0, priority=5,ip actions=output:LOCAL,CONTROLLER:64,output:2\n"
        "table=1, priority=10,metadata=0x5/0xff actions=output:3\n"
        "table=1, priority=1 actions=output:2\n"
    ),
)


@pytest.mark.parametrize("packet", [
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", proto=6, sport=1, dport=2),
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", proto=17, sport=1, dport=2),
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9"),
    ARP,
    ipv4(VM1_MAC, VM2_MAC, "10.0.0.1", "10.0.0.9", proto=47),
], ids=lambda p: packet_summary(p))
def test_more_actions_like_ovs(ovs_sandbox: OvsSandbox, packet: Packet) -> None:
    load_bridges(ovs_sandbox, [MORE_ACTIONS])
    try:
        with OvsTracer(ovs_sandbox) as t:
            want = sorted(theirs(t, "nt-more", "m1", packet))
        got = sorted(ours(OpenFlowEngine([MORE_ACTIONS]).run("nt-more", "m1", packet,
                                                              OpenFlowState())))
        assert got == want
    finally:
        delete_bridges(ovs_sandbox, ["nt-more"])
