"""IPv6 walks on examples/dual-stack: north-south routed without NAT to an outside IPv6 host and
back, east-west between two self-service networks through the router, a neighbour solicitation
answered by the router's interface that holds the target (and by no other), security groups
denying IPv6 on both firewall drivers (vm1 behind iptables_hybrid, vm2 on the openvswitch
firewall), a provider network VM reaching the physical router directly, router advertisements from
instances dropped and neighbour advertisements for another address (the drivers differ, as
Neutron's do)."""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.packet import ETH_TYPE_IPV6, ICMPV6_NA, ICMPV6_NS, IPPROTO_ICMPV6, Packet
from neutrace.sim.port_filter import FirewallWhy, firewall_drop
from neutrace.sim.walk import SimState, Walker
from neutrace.trace import (
    DENIED,
    SUCCESS,
    DropWhy,
    Hop,
    LinuxFate,
    LinuxWhy,
    NatStep,
    NeighbourEvent,
    NeighbourStep,
    TableLookup,
    Trace,
)
from tests.support.facts import denied_rules, explanation
from tests.support.paths import EXAMPLES

PATH = EXAMPLES / "dual-stack" / "cloud.yaml"
CLOUD = topology.load(PATH)
OUTSIDE6 = "2001:db8:100::10"
(ROUTER,) = CLOUD.routers
QROUTER = f"qrouter-{ROUTER.id}"


@pytest.fixture(scope="module")
def walker() -> Walker:
    return session.walker(PATH)


def v6(vm: str) -> str:
    """The VM's IPv6 address."""
    port = CLOUD.port(CLOUD.vm(vm).port_ids[0])
    return next(f.ip_address for f in port.fixed_ips if ":" in f.ip_address)


def delivered(t: Trace | None) -> tuple[Hop, ...]:
    """The hops of the one copy that reached its destination."""
    assert t is not None
    (hops,) = [h for h, d in t.paths() if d.kind in SUCCESS]
    return hops


def elements(hops: tuple[Hop, ...]) -> list[str]:
    return [h.element for h in hops]


@pytest.mark.parametrize("vm", ["vm1", "vm2", "vm4"])
def test_north_south_ipv6_is_routed_without_nat(walker: Walker, vm: str) -> None:
    conv = session.trace(walker, vm, OUTSIDE6, reply=True)
    hops = delivered(conv.request)
    assert hops[-1].element == "internet-host6"
    assert QROUTER in elements(hops) and "router-v6" in elements(hops)
    assert hops[-1].packet.ipv6_src == v6(vm)  # no SNAT: the VM's own address arrives
    assert not [s for h in hops for s in h.steps if isinstance(s, NatStep)]
    wire = next(h for h in hops if h.element == "provider-net")
    assert wire.packet.vlan_vid == 101  # the guide's provider VLAN
    router_hop = next(h for h in hops if h.element == QROUTER)
    assert router_hop.out_port is not None and router_hop.out_port.startswith("qg-")
    back = delivered(conv.reply)
    assert back[-1].element == vm and back[-1].packet.ipv6_dst == v6(vm)


def test_east_west_ipv6_through_the_router(walker: Walker) -> None:
    conv = session.trace(walker, "vm1", v6("vm3"), proto="tcp", dport=22, reply=True)
    hops = delivered(conv.request)
    assert hops[-1].element == "vm3"
    router_hop = next(h for h in hops if h.element == QROUTER)
    assert (router_hop.packet.ipv6_src, router_hop.out_packet and router_hop.out_packet.ipv6_src
            ) == (v6("vm1"), v6("vm1"))
    assert router_hop.out_packet is not None
    assert router_hop.out_packet.nw_ttl == router_hop.packet.nw_ttl - 1  # the hop limit
    assert delivered(conv.reply)[-1].element == "vm1"


@pytest.mark.parametrize(("vm", "host"), [("vm1", "compute1"), ("vm2", "compute2")])
def test_neighbour_solicitation_is_answered_by_the_gateway_interface(
        walker: Walker, vm: str, host: str) -> None:
    port = CLOUD.port(CLOUD.vm(vm).port_ids[0])
    gw = "fd00:192:0:2::1"
    ns = Packet(dl_src=port.mac_address, dl_dst="33:33:ff:00:00:01", dl_type=ETH_TYPE_IPV6,
                ipv6_src=v6(vm), ipv6_dst="ff02::1:ff00:1", nw_proto=IPPROTO_ICMPV6,
                nw_ttl=255, tp_src=ICMPV6_NS, nd_target=gw, nd_sll=port.mac_address)
    t = walker.emit(host, vm, "eth0", ns, SimState.cold())
    v6_itf = next(p for p in ROUTER.interface_port_ids
                  if any(f.ip_address == gw for f in CLOUD.port(p).fixed_ips))
    gw_mac = CLOUD.port(v6_itf).mac_address
    adverts = [s for hops, _ in t.paths() for h in hops for s in h.steps
               if isinstance(s, NeighbourStep) and s.event is NeighbourEvent.ADVERTISEMENT]
    assert {(s.ip, s.mac, s.device) for s in adverts} == {(gw, gw_mac, f"qr-{v6_itf[:11]}")}
    answer = [hops for hops, d in t.paths() if d.kind in SUCCESS and hops[-1].element == vm]
    assert answer, "the neighbour advertisement reaches the VM"
    na = answer[0][-1].packet
    assert (na.tp_src, na.nd_target, na.nd_tll, na.dl_dst) == (
        ICMPV6_NA, gw, gw_mac, port.mac_address)
    # the router's IPv4 interface on the same network does not answer (ND is per device)
    refused = [d.cause for _, d in t.paths() if isinstance(d.cause, LinuxFate)
               and d.cause.why is LinuxWhy.ND_NOT_MINE and d.cause.namespace == QROUTER]
    assert refused and all(c.device != f"qr-{v6_itf[:11]}" for c in refused)


@pytest.mark.parametrize("vm", ["vm1", "vm2"])
def test_security_groups_filter_ipv6(walker: Walker, vm: str) -> None:
    denied = session.trace(walker, "internet-host6", v6(vm), proto="tcp", dport=80).request
    assert not [d for _, d in denied.paths() if d.kind in SUCCESS]
    assert DENIED in {d.kind for _, d in denied.paths()}
    allowed = session.trace(walker, "internet-host6", v6(vm), proto="tcp", dport=22,
                            reply=True)
    assert delivered(allowed.request)[-1].element == vm
    assert delivered(allowed.reply)[-1].element == "internet-host6"


def test_provider_network_vm_reaches_the_physical_router_directly(walker: Walker) -> None:
    conv = session.trace(walker, "provider-vm", OUTSIDE6, reply=True)
    hops = delivered(conv.request)
    assert hops[-1].element == "internet-host6"
    assert not [h for h in hops if h.element.startswith("qrouter-")]
    assert [h.host for h in hops if h.element == "br-provider"] == ["compute1"]
    assert delivered(conv.reply)[-1].element == "provider-vm"


def icmpv6_from(vm: str, icmp_type: int, **fields: str) -> Packet:
    """An ICMPv6 message of ``vm`` (its own MAC and address) to all nodes."""
    port = CLOUD.port(CLOUD.vm(vm).port_ids[0])
    return Packet(dl_src=port.mac_address, dl_dst="33:33:00:00:00:01", dl_type=ETH_TYPE_IPV6,
                  ipv6_src=v6(vm), ipv6_dst="ff02::1", nw_proto=IPPROTO_ICMPV6, nw_ttl=255,
                  tp_src=icmp_type, **fields)


def test_router_advertisements_from_instances_are_dropped(walker: Walker) -> None:
    """Both drivers drop an RA an instance sends: the hybrid driver's "Drop IPv6 Router Advts
    from VM Instance." rule on the qbr bridge, the openvswitch firewall's table 71 (priority
    70, icmp_type=134) through table 93."""
    t = walker.emit("compute1", "vm1", "eth0", icmpv6_from("vm1", 134), SimState.cold())
    (fate,) = [d for _, d in t.paths()]
    assert fate.kind == DENIED and fate.element.startswith("qbr")
    assert any("--icmpv6-type 134" in r and r.endswith("-j DROP") for r in denied_rules(fate.cause))
    t = walker.emit("compute2", "vm2", "eth0", icmpv6_from("vm2", 134), SimState.cold())
    ((hops, fate),) = list(t.paths())
    assert (fate.host, fate.element) == ("compute2", "br-int")
    lookups = [(s.table, s.flow) for s in hops[-1].steps if isinstance(s, TableLookup)]
    assert lookups[-1][0] == 93
    assert (71, 70) in [(table, flow.priority) for table, flow in lookups]
    host = walker.cloud.host("compute2")
    assert host is not None
    drop = firewall_drop(host, lookups)
    assert drop is not None and drop.why is FirewallWhy.ROUTER_ADVERTISEMENT


def test_neighbour_advertisement_for_another_address(walker: Walker) -> None:
    """An instance advertising the router's IPv6 gateway as its own: on the hybrid driver's
    host br-int's table 24 (NA spoofing protection, nd_target of the port's addresses only)
    drops it. Neutron 29's openvswitch firewall fast-paths (priority 95) only NAs for the
    port's own addresses; another target takes the egress rules like any packet of the port's
    own (MAC, IP), and the default egress rule accepts it: it is flooded (Neutron's flows,
    compared equal with Neutron's by the conformance tests)."""
    gw = "fd00:192:0:2::1"
    for vm, host in (("vm1", "compute1"), ("vm2", "compute2")):
        port = CLOUD.port(CLOUD.vm(vm).port_ids[0])
        na = icmpv6_from(vm, ICMPV6_NA, nd_target=gw, nd_tll=port.mac_address)
        t = walker.emit(host, vm, "eth0", na, SimState.cold())
        fates = [d for _, d in t.paths()]
        if vm == "vm1":
            (fate,) = fates
            assert (fate.host, fate.element) == ("compute1", "br-int")
            assert explanation(fate).why is DropWhy.ARP_SPOOF and explanation(fate).table == 24
        else:
            assert not [d for d in fates if (d.host, d.element) == ("compute2", "br-int")]
            assert ("compute1", "vm1") in {(d.host, d.element) for d in fates}
