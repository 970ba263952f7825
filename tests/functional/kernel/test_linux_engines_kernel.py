"""The Linux engines checked against the real kernel.

Each test builds its namespaces twice from the same `Namespace` data: on the kernel (namespaces
``nt-<tag>-<name>``, veths with both ends inside them, ``iptables-restore`` inside them, removed
in the fixture's teardown) and for the engines (`kernel_lab.MiniWalk`). Real packets (a raw-socket
ping, TCP connects with fixed source ports) are compared with the simulation: delivered or not,
the NAT applied (``conntrack -L`` in the namespace), and the rules that matched (the rules with
non-zero packet counters in ``iptables-save -c`` are exactly the rules the engine says matched).

Bridge netfilter: on this kernel br_netfilter is built in and ``net.bridge.bridge-nf-call-iptables``
is per network namespace (1 by default in a new one); the security-group test asserts that
``/proc/sys/net/bridge`` exists inside its namespace and sets the sysctl there, so the qbr-like
bridge really runs the FORWARD chain with physdev matches. (If a kernel lacked br_netfilter, the
test fails with that message rather than skipping: CI must run it.)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest

from neutrace.dataplane import BRIDGE, LOOPBACK, VETH, Interface, Namespace, Route
from neutrace.engines.linuxnet import icmp_error
from neutrace.packet import ICMP_ECHO_REPLY, IPPROTO_TCP, Packet, arp_request, ipv4
from neutrace.trace import ACCEPTED, DENIED, NO_ROUTE, STEP_NAT, ConntrackStep
from tests.support.facts import denied_rules
from tests.support.kernel_lab import Lab, MiniWalk, lab_tag
from tests.support.paths import SEED_YAML
from tests.support.samples import NAT as ROUTER_IPTABLES
from tests.support.samples import QBR, QVB, QVO, SG_IPSETS, SG_IPTABLES, TAP

pytestmark = pytest.mark.root

SYN, SYNACK, ACK = 0x02, 0x12, 0x10


@pytest.fixture()
def lab_factory(netns_root: None) -> Iterator[list[Lab]]:
    labs: list[Lab] = []
    yield labs
    for lab in labs:
        lab.down()


def start(labs: list[Lab], namespaces: list[Namespace]) -> Lab:
    lab = Lab(lab_tag(), namespaces)
    labs.append(lab)
    return lab.up()


# -- a qrouter between a tenant network and the external network ---------------------------------

QR, QG = "qr-466214fa-3d", "qg-169d638e-0e"
MAC = {
    "vm": "fa:16:3e:00:11:04", "vm2": "fa:16:3e:00:11:09", "qr": "fa:16:3e:00:11:01",
    "qg": "fa:16:3e:00:10:03", "ext": "52:54:00:00:10:01",
}
OUTSIDE = "203.0.113.10"


def veth(name: str, peer: str, peer_ns: str, mac: str | None = None,
         addresses: tuple[str, ...] = (), master: str | None = None) -> Interface:
    return Interface(name, VETH, mac, addresses=addresses, peer=peer, peer_namespace=peer_ns,
                     master=master)


def router_lab(default_route: bool = True) -> list[Namespace]:
    no_nf = (("net.bridge.bridge-nf-call-iptables", "0"),)
    return [
        Namespace("net", interfaces=(
            Interface("br-share", BRIDGE, "02:00:00:00:00:01"),
            veth("p-qr", QR, "r", "02:00:00:00:00:02", master="br-share"),
            veth("p-vm", "eth0", "vm", "02:00:00:00:00:03", master="br-share"),
            veth("p-vm2", "eth0", "vm2", "02:00:00:00:00:04", master="br-share"),
        ), sysctls=no_nf),
        Namespace("vm", interfaces=(
            veth("eth0", "p-vm", "net", MAC["vm"], ("192.168.111.4/24",)),),
            routes=(Route("default", "eth0", "192.168.111.1"),)),
        Namespace("vm2", interfaces=(
            veth("eth0", "p-vm2", "net", MAC["vm2"], ("192.168.111.9/24",)),),
            routes=(Route("default", "eth0", "192.168.111.1"),)),
        Namespace("r", kind="qrouter", interfaces=(
            veth(QR, "p-qr", "net", MAC["qr"], ("192.168.111.1/24",)),
            veth(QG, "eth0", "ext", MAC["qg"], ("192.168.100.103/24", "192.168.100.102/32")),
        ), routes=(Route("default", QG, "192.168.100.1"),) if default_route else (),
            iptables=ROUTER_IPTABLES, sysctls=(("net.ipv4.ip_forward", "1"),)),
        Namespace("ext", interfaces=(
            Interface("lo", LOOPBACK, addresses=("127.0.0.1/8", f"{OUTSIDE}/32")),
            veth("eth0", QG, "r", MAC["ext"], ("192.168.100.1/24",)),
        )),
    ]


def test_router_snat_and_floating_ip_both_ways(lab_factory: list[Lab]) -> None:
    spaces = router_lab()
    lab = start(lab_factory, spaces)
    sim = MiniWalk(spaces)

    # 1. the VM with a floating IP pings outside: SNAT to the floating IP, reply un-NATed
    assert lab.ping("vm", OUTSIDE) == f"reply {OUTSIDE}"
    (end,) = sim.send("vm", ipv4("", "", "192.168.111.4", OUTSIDE))
    assert end.disposition == ACCEPTED and end.namespace == "ext"
    assert end.packet.nw_src == "192.168.100.102"
    (back,) = sim.send("ext", ipv4("", "", OUTSIDE, "192.168.100.102").with_(
        tp_src=ICMP_ECHO_REPLY))
    assert back.disposition == ACCEPTED and back.namespace == "vm"
    assert back.packet.nw_src == OUTSIDE and back.packet.nw_dst == "192.168.111.4"

    # 2. outside connects to the floating IP: DNAT to the VM, the VM sees the real source
    client, seen = lab.tcp("ext", "vm", "192.168.100.102", 22, 40001)
    assert client == "connected" and seen == "peer 192.168.100.1 40001"
    tcp_walk(sim, "ext", "vm", "192.168.100.1", "192.168.100.102", 40001, 22,
             reply_src="192.168.111.4")

    # 3. a VM without floating IP: the router's default SNAT to its gateway address
    client, seen = lab.tcp("vm2", "ext", OUTSIDE, 80, 40002)
    assert client == "connected" and seen == "peer 192.168.100.103 40002"
    tcp_walk(sim, "vm2", "ext", "192.168.111.9", OUTSIDE, 40002, 80, reply_dst="192.168.100.103")

    # the NAT bindings: conntrack -L in the router against the engine's table
    kernel = {(e["proto"], e["orig_src"], e["orig_dst"], e["reply_src"], e["reply_dst"])
              for e in lab.conntrack("r")}
    table = sim.state.conntrack_of("lab", "r")
    names = {1: "icmp", 6: "tcp"}
    engine = {(names[e.orig.proto], e.orig.src, e.orig.dst, e.reply.src, e.reply.dst)
              for e in table}
    assert engine == kernel
    assert ("icmp", "192.168.111.4", OUTSIDE, OUTSIDE, "192.168.100.102") in kernel
    assert ("tcp", "192.168.100.1", "192.168.100.102", "192.168.111.4", "192.168.100.1") in kernel
    assert ("tcp", "192.168.111.9", OUTSIDE, OUTSIDE, "192.168.100.103") in kernel
    # the rules that matched: kernel counters against the engine's rule steps
    assert sim.rules_hit([spaces[3]])["r"] == lab.hit_rules("r")


def tcp_walk(sim: MiniWalk, client: str, server: str, src: str, dst: str, sport: int,
             dport: int, reply_src: str | None = None, reply_dst: str | None = None) -> None:
    """SYN, SYN/ACK, ACK through the engines; asserts each arrives."""
    (syn,) = sim.send(client, ipv4("", "", src, dst, IPPROTO_TCP, sport, dport, tcp_flags=SYN))
    assert syn.disposition == ACCEPTED and syn.namespace == server, syn.cause
    p = syn.packet
    (synack,) = sim.send(server, ipv4("", "", p.nw_dst, p.nw_src, IPPROTO_TCP, p.tp_dst,
                                      p.tp_src, tcp_flags=SYNACK))
    assert synack.disposition == ACCEPTED and synack.namespace == client, synack.cause
    assert (synack.packet.nw_src, synack.packet.tp_src) == (dst, dport)
    if reply_src:
        assert p.nw_dst == reply_src
    if reply_dst:
        assert p.nw_src == reply_dst
    (ack,) = sim.send(client, ipv4("", "", src, dst, IPPROTO_TCP, sport, dport, tcp_flags=ACK))
    assert ack.disposition == ACCEPTED and ack.namespace == server


def test_no_route(lab_factory: list[Lab]) -> None:
    spaces = router_lab(default_route=False)
    lab = start(lab_factory, spaces)
    sim = MiniWalk(spaces)
    # the router has no route to the outside: it answers ICMP network unreachable
    assert lab.ping("vm", OUTSIDE) == "icmp 3 0 192.168.111.1"
    (end,) = sim.send("vm", ipv4("", "", "192.168.111.4", OUTSIDE))
    assert end.disposition == NO_ROUTE and end.namespace == "r"
    assert answer_text(sim, ipv4("", "", "192.168.111.4", OUTSIDE)) == "icmp 3 0 192.168.111.1"
    # the outside namespace has no route to the tenant network at all: ENETUNREACH
    assert lab.ping("ext", "192.168.111.4") == "error 101"
    (end,) = sim.send("ext", ipv4("", "", "", "192.168.111.4"))
    assert end.disposition == NO_ROUTE and end.namespace == "ext"


def answer_text(sim: MiniWalk, packet: Packet) -> str:
    """The router's answer to ``packet`` sent by vm, in `Lab.ping`'s words."""
    (out,) = sim.engine.send("vm", packet, sim.state, sim.resolve).outputs
    assert out.packet.dl_dst == MAC["qr"]
    got = sim.engine.receive("r", QR, out.packet, sim.state, sim.resolve)
    ans = sim.engine.answer("r", QR, out.packet, got, sim.state, sim.resolve)
    if ans is None:
        return "timeout"
    (back,) = ans.outputs
    assert back.port == QR and back.packet.dl_dst == MAC["vm"]
    p = back.packet
    if p.tp_src == ICMP_ECHO_REPLY:
        return f"reply {p.nw_src}"
    return f"icmp {p.tp_src} {p.tp_dst} {p.nw_src}"


def test_the_kernels_answers(lab_factory: list[Lab]) -> None:
    """Echo reply, time exceeded, REJECT's port unreachable and net unreachable: the packets the
    kernel sends back, against `LinuxEngine.answer`."""
    reject = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
              "-A FORWARD -d 203.0.113.10/32 -p icmp -j REJECT\nCOMMIT\n")
    spaces = router_lab()
    spaces[3] = dataclasses.replace(spaces[3], iptables=reject)
    lab = start(lab_factory, spaces)
    sim = MiniWalk(spaces)

    def engine_answer(dst: str, ttl: int = 64) -> str:
        return answer_text(sim, ipv4("", "", "192.168.111.4", dst, ttl=ttl))

    assert lab.ping("vm", "192.168.111.1") == "reply 192.168.111.1" == engine_answer(
        "192.168.111.1")
    assert lab.ping("vm", "198.51.100.1", ttl=1) == "icmp 11 0 192.168.111.1" == engine_answer(
        "198.51.100.1", ttl=1)
    assert lab.ping("vm", OUTSIDE) == "icmp 3 3 192.168.111.1" == engine_answer(OUTSIDE)


# -- a qbr-like Linux bridge with Neutron's hybrid iptables firewall -----------------------------



def sg_lab() -> list[Namespace]:
    return [
        Namespace("h", interfaces=(
            Interface(QBR, BRIDGE, "02:00:00:00:01:01"),
            veth(TAP, "eth0", "vm", "fe:16:3e:aa:00:04", master=QBR),
            veth(QVB, QVO, "peer", "02:00:00:00:01:02", master=QBR),
        ), iptables=SG_IPTABLES, ipsets=SG_IPSETS,
            sysctls=(("net.bridge.bridge-nf-call-iptables", "1"),)),
        Namespace("vm", interfaces=(
            veth("eth0", TAP, "h", "fa:16:3e:aa:00:04", ("10.0.0.4/24",)),)),
        Namespace("peer", interfaces=(
            veth(QVO, QVB, "h", "fa:16:3e:aa:00:05", ("10.0.0.5/24",)),)),
    ]


def test_security_group_through_a_qbr_bridge(lab_factory: list[Lab]) -> None:
    spaces = sg_lab()
    lab = start(lab_factory, spaces)
    assert os.path.exists(f"/run/netns/{lab.kname('h')}")
    lab.require_bridge_netfilter("h")
    sim = MiniWalk(spaces)

    # ingress allowed by the security group (tcp 22)
    assert lab.tcp("peer", "vm", "10.0.0.4", 22, 41000) == ("connected", "peer 10.0.0.5 41000")
    tcp_walk(sim, "peer", "vm", "10.0.0.5", "10.0.0.4", 41000, 22)

    # ingress denied: tcp 80 is not in the group; the engine names the fallback drop
    client, seen = lab.tcp("peer", "vm", "10.0.0.4", 80, 41001, timeout=1.0)
    assert (client, seen) == ("timeout", "none")
    (end,) = sim.send("peer", ipv4("", "", "10.0.0.5", "10.0.0.4", IPPROTO_TCP, 41001, 80,
                                   tcp_flags=SYN))
    assert end.disposition == DENIED and end.element == QBR
    assert any("neutron-openvswi-sg-fallback" in r and "-j DROP" in r
               for r in denied_rules(end.cause))

    # egress from the VM to tcp 80 is allowed, and conntrack lets its reply in
    assert lab.tcp("vm", "peer", "10.0.0.5", 80, 41002) == ("connected", "peer 10.0.0.4 41002")
    tcp_walk(sim, "vm", "peer", "10.0.0.4", "10.0.0.5", 41002, 80)

    # an ICMP error about the VM's own UDP flow is RELATED: the ingress chain lets it in
    lab.udp("vm", "10.0.0.4", 41003, "10.0.0.5", 9999)
    (udp_end,) = sim.send("vm", ipv4("", "", "10.0.0.4", "10.0.0.5", 17, 41003, 9999))
    assert udp_end.namespace == "peer"
    (icmp_end,) = sim.send("peer", ipv4("", "", "10.0.0.5", "10.0.0.4", 1, 3, 3))
    assert icmp_end.namespace == "vm" and icmp_end.disposition == ACCEPTED
    assert any(isinstance(s, ConntrackStep) and s.state == "RELATED" for _, s in sim.steps)

    # conntrack: zone 4097 from CT --zone, only the connections that got through
    kernel = {(e.get("zone"), e["orig_src"], e["orig_dst"], e["orig_sport"], e["orig_dport"])
              for e in lab.conntrack("h") if e["proto"] in ("tcp", "udp")}
    engine = {(str(e.zone), e.orig.src, e.orig.dst, str(e.orig.sport), str(e.orig.dport))
              for e in sim.state.conntrack_of("lab", "h")}
    assert engine == kernel == {("4097", "10.0.0.5", "10.0.0.4", "41000", "22"),
                                ("4097", "10.0.0.4", "10.0.0.5", "41002", "80"),
                                ("4097", "10.0.0.4", "10.0.0.5", "41003", "9999")}
    assert sim.rules_hit([spaces[0]])["h"] == lab.hit_rules("h")


# -- ARP across a bridge ---------------------------------------------------------------------------


def arp_lab() -> list[Namespace]:
    return [
        Namespace("h", interfaces=(
            Interface("br0", BRIDGE, "02:00:00:00:02:01"),
            veth("pa", "eth0", "a", "02:00:00:00:02:02", master="br0"),
            veth("pb", "eth0", "b", "02:00:00:00:02:03", master="br0"),
            veth("pc", "eth0", "c", "02:00:00:00:02:04", master="br0"),
        )),
        Namespace("a", interfaces=(veth("eth0", "pa", "h", "fa:16:3e:bb:00:01",
                                        ("10.2.0.1/24",)),)),
        Namespace("b", interfaces=(veth("eth0", "pb", "h", "fa:16:3e:bb:00:02",
                                        ("10.2.0.2/24",)),)),
        Namespace("c", interfaces=(veth("eth0", "pc", "h", "fa:16:3e:bb:00:03",
                                        ("10.2.0.3/24",)),)),
    ]


def test_arp_across_a_bridge(lab_factory: list[Lab]) -> None:
    spaces = arp_lab()
    lab = start(lab_factory, spaces)
    sim = MiniWalk(spaces)
    assert lab.ping("a", "10.2.0.2") == "reply 10.2.0.2"

    a_mac, b_mac = "fa:16:3e:bb:00:01", "fa:16:3e:bb:00:02"
    ends = sim.from_port("a", "eth0", arp_request(a_mac, "10.2.0.1", "10.2.0.2"))
    # flooded to b and c; c does not own 10.2.0.2; b's reply comes back to a
    by_ns = {e.namespace: e for e in ends}
    assert set(by_ns) == {"a", "c"}
    assert by_ns["a"].disposition == ACCEPTED and by_ns["c"].disposition == "dropped"
    assert sim.state.neighbour_cache("lab", "a")[("eth0", "10.2.0.2")] == b_mac
    # the kernel's caches agree: a knows b, b learned a from the request, the bridge learned both
    assert lab.neigh("a")[("eth0", "10.2.0.2")] == b_mac
    assert lab.neigh("b")[("eth0", "10.2.0.1")] == a_mac
    assert sim.state.neighbour_cache("lab", "b")[("eth0", "10.2.0.1")] == a_mac
    kernel_fdb = lab.bridge_fdb("h", "br0")
    assert {a_mac: "pa", b_mac: "pb"}.items() <= kernel_fdb.items()
    assert sim.state.fdb_of("lab", "br0") == {a_mac: "pa", b_mac: "pb"}


# -- IPv6 across a bridge: neighbour discovery is untracked ------------------------------------

IP6TABLES_STATES = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 143 -j ACCEPT
-A FORWARD -m state --state UNTRACKED -j ACCEPT
-A FORWARD -m state --state INVALID -j ACCEPT
-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -m state --state NEW -j ACCEPT
-A FORWARD -m state --state ESTABLISHED -j ACCEPT
COMMIT
"""


def test_ipv6_neighbour_discovery_and_echo_across_a_bridge(lab_factory: list[Lab]) -> None:
    a_mac, b_mac = "fa:16:3e:cc:00:0a", "fa:16:3e:cc:00:0b"
    spaces = [
        Namespace("h", interfaces=(
            Interface("qbr6", BRIDGE, "02:00:00:00:06:01"),
            veth("tap6", "eth0", "a", "fe:16:3e:cc:00:0a", master="qbr6"),
            veth("qvb6", "eth0", "b", "02:00:00:00:06:02", master="qbr6"),
        ), ip6tables=IP6TABLES_STATES,
            sysctls=(("net.bridge.bridge-nf-call-ip6tables", "1"),)),
        Namespace("a", interfaces=(veth("eth0", "tap6", "h", a_mac, ("2001:db8::a/64",)),)),
        Namespace("b", interfaces=(veth("eth0", "qvb6", "h", b_mac, ("2001:db8::b/64",)),)),
    ]
    lab = Lab(lab_tag(), spaces, ipv6=True)
    lab_factory.append(lab)
    lab.up()
    lab.require_bridge_netfilter("h")
    lab.exec("h", "ip6tables", "-Z")
    assert lab.ping6("a", "2001:db8::b") == "reply 2001:db8::b"
    assert lab.neigh("a")[("eth0", "2001:db8::b")] == b_mac

    sim = MiniWalk(spaces)
    ns = Packet(dl_src=a_mac, dl_dst="33:33:ff:00:00:0b", dl_type=0x86DD,
                ipv6_src="2001:db8::a", ipv6_dst="ff02::1:ff00:b", nw_proto=58, nw_ttl=255,
                tp_src=135, nd_target="2001:db8::b", nd_sll=a_mac)
    ends = sim.from_port("a", "eth0", ns)
    assert [e.namespace for e in ends] == ["a"]  # the NA came back to a
    assert sim.state.neighbour_cache("lab", "b")[("eth0", "2001:db8::a")] == a_mac
    echo = Packet(dl_src=a_mac, dl_dst=b_mac, dl_type=0x86DD, ipv6_src="2001:db8::a",
                  ipv6_dst="2001:db8::b", nw_proto=58, nw_ttl=64, tp_src=128)
    (end,) = sim.send("a", echo)
    assert end.namespace == "b" and end.disposition == ACCEPTED
    (back,) = sim.send("b", echo_reply_of(echo))
    assert back.namespace == "a" and back.disposition == ACCEPTED
    kernel = lab.hit_rules("h", "ip6tables-save") - {("filter", "FORWARD", 0)}  # MLD reports
    assert sim.rules_hit([spaces[0]], v6=True)["h"] == kernel
    assert ("filter", "FORWARD", 1) in kernel  # neighbour discovery: UNTRACKED


def echo_reply_of(p: Packet) -> Packet:
    return p.with_(dl_src=p.dl_dst, dl_dst=p.dl_src, ipv6_src=p.ipv6_dst, ipv6_dst=p.ipv6_src,
                   tp_src=129)


def test_arp_and_ping_to_the_bridge_device_itself(lab_factory: list[Lab]) -> None:
    spaces = arp_lab()
    spaces[0] = dataclasses.replace(spaces[0], interfaces=(
        dataclasses.replace(spaces[0].interfaces[0], addresses=("10.2.0.254/24",)),
        *spaces[0].interfaces[1:]))
    lab = start(lab_factory, spaces)
    sim = MiniWalk(spaces)
    assert lab.ping("a", "10.2.0.254") == "reply 10.2.0.254"
    a_mac, br_mac = "fa:16:3e:bb:00:01", "02:00:00:00:02:01"
    assert lab.neigh("a")[("eth0", "10.2.0.254")] == br_mac
    ends = sim.from_port("a", "eth0", arp_request(a_mac, "10.2.0.1", "10.2.0.254"))
    # flooded to b and c (they do not own it), answered by the bridge's own stack back to a
    assert sorted((e.namespace, e.disposition) for e in ends) == [
        ("a", ACCEPTED), ("b", "dropped"), ("c", "dropped")]
    assert sim.state.neighbour_cache("lab", "a")[("eth0", "10.2.0.254")] == br_mac
    echo = ipv4(a_mac, br_mac, "10.2.0.1", "10.2.0.254")
    got = sim.engine.bridge("br0", "pa", echo, sim.state)
    assert got.disposition == ACCEPTED
    ans = sim.engine.answer("h", "br0", echo, got, sim.state, sim.resolve)
    assert ans is not None
    assert [(o.port, o.packet.nw_src, o.packet.dl_dst) for o in ans.outputs] == [
        ("pa", "10.2.0.254", a_mac)]


def test_physdev_on_traffic_for_the_bridge_device_itself(lab_factory: list[Lab]) -> None:
    rules = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -m physdev --physdev-in pb -p icmp -j DROP\n"
             "-A INPUT -m physdev ! --physdev-is-bridged --physdev-in pa -j ACCEPT\n"
             "COMMIT\n")
    spaces = arp_lab()
    spaces[0] = dataclasses.replace(spaces[0], iptables=rules, interfaces=(
        dataclasses.replace(spaces[0].interfaces[0], addresses=("10.2.0.254/24",)),
        *spaces[0].interfaces[1:]))
    lab = start(lab_factory, spaces)
    assert lab.ping("a", "10.2.0.254") == "reply 10.2.0.254"
    assert lab.ping("b", "10.2.0.254") == "timeout"
    sim = MiniWalk(spaces)
    br_mac = "02:00:00:00:02:01"
    from_a = sim.engine.bridge("br0", "pa", ipv4("fa:16:3e:bb:00:01", br_mac, "10.2.0.1",
                                                 "10.2.0.254"), sim.state)
    from_b = sim.engine.bridge("br0", "pb", ipv4("fa:16:3e:bb:00:02", br_mac, "10.2.0.2",
                                                 "10.2.0.254"), sim.state)
    assert (from_a.disposition, from_b.disposition) == (ACCEPTED, DENIED)
    assert any("--physdev-in pb" in r for r in denied_rules(from_b.cause))
    sim.steps.extend(("h", step) for step in from_a.steps + from_b.steps)
    assert sim.rules_hit([spaces[0]])["h"] == lab.hit_rules("h") == {
        ("filter", "INPUT", 0), ("filter", "INPUT", 1)}


@pytest.mark.parametrize(("arp_ignore", "target", "answered"), [
    ("0", "10.6.0.1", True),   # any local address, as on a default namespace
    ("1", "10.6.0.1", False),  # Neutron's qrouter: only addresses on the receiving interface
    ("1", "10.5.0.1", True),
    ("2", "10.5.0.77", True),  # ... in a subnet of that interface holding the sender too
])
def test_arp_ignore(lab_factory: list[Lab], arp_ignore: str, target: str,
                    answered: bool) -> None:
    a_mac, r_mac = "fa:16:3e:dd:00:0a", "fa:16:3e:dd:00:01"
    spaces = [
        Namespace("a", interfaces=(veth("eth0", "eth0", "r", a_mac, ("10.5.0.2/24",)),),
                  routes=(Route("10.6.0.0/24", "eth0"), Route("10.5.0.77/32", "eth0"))),
        Namespace("r", interfaces=(
            veth("eth0", "eth0", "a", r_mac, ("10.5.0.1/24", "10.5.0.77/32")),
            veth("x0", "eth0", "z", "fa:16:3e:dd:00:02", ("10.6.0.1/24",)),
        ), sysctls=(("net.ipv4.conf.all.arp_ignore", arp_ignore),)),
        Namespace("z", interfaces=(veth("eth0", "x0", "r", "fa:16:3e:dd:00:03",
                                        ("10.6.0.2/24",)),)),
    ]
    lab = start(lab_factory, spaces)
    kernel = lab.ping("a", target)
    assert kernel == (f"reply {target}" if answered else "timeout")
    sim = MiniWalk(spaces)
    res = sim.engine.receive("r", "eth0", arp_request(a_mac, "10.5.0.2", target), sim.state,
                             sim.resolve)
    assert bool(res.outputs) == answered


@pytest.mark.parametrize(("target", "answered"), [
    ("2001:db8:5::1", True),   # an address of the receiving device
    ("2001:db8:6::1", False),  # an address of another device: ND has no weak host model
])
def test_neighbour_solicitation_only_for_the_receiving_device(
        lab_factory: list[Lab], target: str, answered: bool) -> None:
    """A router with an IPv4 and an IPv6 port on one network (Neutron's qr- per subnet family)
    answers an NS on the device holding the target only."""
    a_mac, r_mac = "fa:16:3e:ee:00:0a", "fa:16:3e:ee:00:01"
    spaces = [
        Namespace("a", interfaces=(veth("eth0", "eth0", "r", a_mac, ("2001:db8:5::2/64",)),),
                  routes=(Route("2001:db8:6::/64", "eth0"),)),
        Namespace("r", interfaces=(
            veth("eth0", "eth0", "a", r_mac, ("2001:db8:5::1/64",)),
            veth("x0", "eth0", "z", "fa:16:3e:ee:00:02", ("2001:db8:6::1/64",)),
        )),
        Namespace("z", interfaces=(veth("eth0", "x0", "r", "fa:16:3e:ee:00:03",
                                        ("2001:db8:6::2/64",)),)),
    ]
    lab = Lab(lab_tag(), spaces, ipv6=True)
    lab_factory.append(lab)
    lab.up()
    assert lab.ping6("a", target) == (f"reply {target}" if answered else "timeout")
    sim = MiniWalk(spaces)
    ns = Packet(dl_src=a_mac, dl_dst="33:33:ff:00:00:01", dl_type=0x86DD,
                ipv6_src="2001:db8:5::2", ipv6_dst="ff02::1:ff00:1", nw_proto=58, nw_ttl=255,
                tp_src=135, nd_target=target, nd_sll=a_mac)
    res = sim.engine.receive("r", "eth0", ns, sim.state, sim.resolve)
    assert bool(res.outputs) == answered


def test_lab_names_stay_in_nt_prefix() -> None:
    lab = Lab("x1", [dataclasses.replace(sg_lab()[0])])
    assert lab.kname("h").startswith("nt-")


# -- the agents' own iptables_hybrid output for the seed's test-02, on the kernel ------------


def seed_sg_lab() -> list[Namespace]:

    from neutrace.agents import program
    from neutrace.topology import load

    seed = program(load(str(SEED_YAML)))
    cmpt = seed.host("test-cmpt-02")
    assert cmpt is not None
    root, vm = cmpt.root, cmpt.namespace("test-02")
    assert vm is not None
    qbr, tap, qvb, qvo = "qbr1b17c0cc-9f", "tap1b17c0cc-9f", "qvb1b17c0cc-9f", "qvo1b17c0cc-9f"

    def itf(name: str) -> Interface:
        found = root.interface(name)
        assert found is not None
        return found

    eth0 = vm.interface("eth0")
    assert eth0 is not None
    return [
        Namespace("h", interfaces=(
            itf(qbr),
            dataclasses.replace(itf(tap), kind=VETH, peer="eth0", peer_namespace="vm"),
            dataclasses.replace(itf(qvb), peer=qvo, peer_namespace="net"),
        ), iptables=root.iptables, ipsets=root.ipsets, sysctls=root.sysctls),
        Namespace("vm", interfaces=(dataclasses.replace(eth0, peer_namespace="h"),),
                  routes=vm.routes),
        Namespace("net", interfaces=(
            veth(qvo, qvb, "h", "fa:16:3e:a6:01:bf", ("192.168.111.1/24", "192.168.100.101/24")),
        )),
    ]


def test_agents_seed_security_group_on_the_kernel(lab_factory: list[Lab]) -> None:
    spaces = seed_sg_lab()
    lab = start(lab_factory, spaces)
    lab.require_bridge_netfilter("h")
    sim = MiniWalk(spaces)
    # test-02 connects out: egress allowed, the reply let in by conntrack
    assert lab.tcp("vm", "net", "192.168.111.1", 80, 42000) == (
        "connected", "peer 192.168.111.4 42000")
    tcp_walk(sim, "vm", "net", "192.168.111.4", "192.168.111.1", 42000, 80)
    # a new connection from a non-member of the default group: denied by the fallback chain
    assert lab.tcp("net", "vm", "192.168.111.4", 22, 42001, timeout=1.0) == ("timeout", "none")
    (end,) = sim.send("net", ipv4("", "", "192.168.111.1", "192.168.111.4", IPPROTO_TCP, 42001,
                                  22, tcp_flags=SYN))
    assert end.disposition == DENIED and any("sg-fallback" in r for r in denied_rules(end.cause))
    # from test-01's address (in the group's ipset): allowed
    assert lab.tcp("net", "vm", "192.168.111.4", 22, 42002, src="192.168.100.101") == (
        "connected", "peer 192.168.100.101 42002")
    tcp_walk(sim, "net", "vm", "192.168.100.101", "192.168.111.4", 42002, 22)

    kernel = {(e.get("zone"), e["orig_src"], e["orig_dst"], e["orig_sport"], e["orig_dport"])
              for e in lab.conntrack("h") if e["proto"] == "tcp"}
    engine = {(str(e.zone), e.orig.src, e.orig.dst, str(e.orig.sport), str(e.orig.dport))
              for e in sim.state.conntrack_of("lab", "h")}
    assert engine == kernel and len(kernel) == 2
    assert sim.rules_hit([spaces[0]])["h"] == lab.hit_rules("h")


# -- the agents' own qrouter (address scopes, CONNMARK, --random-fully SNAT), on the kernel --------


def seed_router_lab() -> list[Namespace]:

    from neutrace.agents import program
    from neutrace.topology import load

    seed = program(load(str(SEED_YAML)))
    ctrl = seed.host("test-ctrl-01")
    assert ctrl is not None
    router = next(n for n in ctrl.namespaces if n.name.startswith("qrouter-"))
    qr, qg = router.interface(QR), router.interface(QG)
    assert qr is not None and qg is not None
    net = router_lab()
    return [
        net[0], net[1], net[2],
        dataclasses.replace(router, name="r", interfaces=(
            dataclasses.replace(qr, kind=VETH, peer="p-qr", peer_namespace="net"),
            dataclasses.replace(qg, kind=VETH, peer="eth0", peer_namespace="ext"),
        )),
        net[4],
    ]


def test_agents_seed_router_on_the_kernel(lab_factory: list[Lab]) -> None:
    spaces = seed_router_lab()
    lab = start(lab_factory, spaces)
    sim = MiniWalk(spaces)
    assert lab.ping("vm", OUTSIDE) == f"reply {OUTSIDE}"
    (end,) = sim.send("vm", ipv4("", "", "192.168.111.4", OUTSIDE))
    assert end.disposition == ACCEPTED and end.packet.nw_src == "192.168.100.102"
    (back,) = sim.send("ext", ipv4("", "", OUTSIDE, "192.168.100.102").with_(
        tp_src=ICMP_ECHO_REPLY))
    assert back.disposition == ACCEPTED and back.namespace == "vm"
    client, seen = lab.tcp("ext", "vm", "192.168.100.102", 22, 40011)
    assert client == "connected" and seen == "peer 192.168.100.1 40011"
    tcp_walk(sim, "ext", "vm", "192.168.100.1", "192.168.100.102", 40011, 22)
    client, seen = lab.tcp("vm2", "ext", OUTSIDE, 80, 40012)
    assert client == "connected" and seen.startswith("peer 192.168.100.103 ")  # --random-fully
    tcp_walk(sim, "vm2", "ext", "192.168.111.9", OUTSIDE, 40012, 80, reply_dst="192.168.100.103")

    # metadata: REDIRECT of 169.254.169.254:80 to the router's own 9697 (mangle marks it 0x1,
    # which filter INPUT accepts)
    client, seen = lab.tcp("vm", "r", "169.254.169.254", 80, 40013, server_port=9697)
    assert (client, seen) == ("connected", "peer 192.168.111.4 40013")
    (meta,) = sim.send("vm", ipv4("", "", "192.168.111.4", "169.254.169.254", IPPROTO_TCP,
                                  40013, 80, tcp_flags=SYN))
    assert meta.disposition == ACCEPTED and meta.namespace == "r"
    (redirect,) = [s for s in meta.steps if s.kind == STEP_NAT]
    assert [str(c) for c in redirect.changes] == ["nw_dst: 169.254.169.254 -> 192.168.111.1",
                                                  "tp_dst: 80 -> 9697"]
    (meta_back,) = sim.send("r", ipv4("", "", "192.168.111.1", "192.168.111.4", IPPROTO_TCP,
                                      9697, 40013, tcp_flags=SYNACK))
    assert meta_back.namespace == "vm"
    assert (meta_back.packet.nw_src, meta_back.packet.tp_src) == ("169.254.169.254", 80)
    (meta_ack,) = sim.send("vm", ipv4("", "", "192.168.111.4", "169.254.169.254", IPPROTO_TCP,
                                      40013, 80, tcp_flags=ACK))
    assert meta_ack.namespace == "r"

    # the router itself reaching the floating IP: OUTPUT DNAT, re-route out qr-, and the
    # "! --mark 0x2/0xffff --ctstate DNAT" SNAT to the gateway address
    client, seen = lab.tcp("r", "vm", "192.168.100.102", 22, 40014)
    assert client == "connected" and seen.startswith("peer 192.168.100.103 ")
    tcp_walk(sim, "r", "vm", "192.168.100.102", "192.168.100.102", 40014, 22,
             reply_dst="192.168.100.103")

    # an ICMP port unreachable from outside about the VM's SNATed UDP flow: RELATED, un-SNATed
    # back to the VM (outer destination and the quoted packet's source)
    assert lab.udp_refused("vm", OUTSIDE, 40015, 9999) == "refused"
    (udp_end,) = sim.send("vm", ipv4("", "", "192.168.111.4", OUTSIDE, 17, 40015, 9999))
    assert udp_end.namespace == "ext" and udp_end.packet.nw_src == "192.168.100.102"
    (err_end,) = sim.send("ext", icmp_error(udp_end.packet, OUTSIDE, 3, 3))
    assert err_end.namespace == "vm" and err_end.disposition == ACCEPTED
    assert err_end.packet.nw_dst == "192.168.111.4"
    assert err_end.packet.payload is not None
    assert err_end.packet.payload.nw_src == "192.168.111.4"

    kernel = {(e["proto"], e["orig_src"], e["orig_dst"], e["reply_src"], e["reply_dst"],
               e.get("mark", "0")) for e in lab.conntrack("r")}
    names = {1: "icmp", 6: "tcp", 17: "udp"}
    engine = {(names[e.orig.proto], e.orig.src, e.orig.dst, e.reply.src, e.reply.dst,
               str(e.mark)) for e in sim.state.conntrack_of("lab", "r")}
    assert engine == kernel
    assert sim.rules_hit([spaces[3]])["r"] == lab.hit_rules("r")
