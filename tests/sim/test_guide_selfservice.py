"""The Networking Guide's self-service walks (deploy-ovs-selfservice, "Network traffic flow") on
tests/data/clouds/guide-selfservice.yaml (the guide's parameters: provider1 on VLAN 101 with
203.0.113.0/24, selfservice1 VNI 101 192.0.2.0/24, selfservice2 VNI 102 198.51.100.0/24), step by
step: north-south with a fixed IP (SNAT on the network node), north-south with a floating IP
(DNAT there), east-west on one network (compute node to compute node, never the network node)
and east-west between two networks (through the router on the network node). The IPv6 walks of
the same page are tests/sim/test_guide_ipv6.py.

Each test lists the guide's numbered steps it checks. The walks are warm (MACs learned: the
steady state the guide describes, one unicast path). The guide's "the OVS integration bridge
exchanges the internal VLAN tag for an internal tunnel ID" is br-tun's table 22 (VLAN out, VNI
set) on the sending node and table 4 (VNI in, local VLAN pushed) on the receiving one, as
Neutron's OVS agent programs them; the conformance tests compare those flows with Neutron's.
"""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.trace import Hop, NatStep
from tests.support import walks
from tests.support.paths import DATA
from tests.support.walks import at, delivered, vlan_rewrites

PATH = DATA / "clouds" / "guide-selfservice.yaml"
CLOUD = topology.load(PATH)
(ROUTER,) = CLOUD.routers
QROUTER = f"qrouter-{ROUTER.id}"
NET = {n.name: n for n in CLOUD.networks}
(FIP,) = CLOUD.floating_ips
NODE = ROUTER.host


@pytest.fixture(scope="module")
def walker() -> Walker:
    return session.walker(PATH)


def order(hops: tuple[Hop, ...]) -> list[str]:
    return [f"{h.host}/{h.element}" for h in hops]


def change(hop: Hop, field: str) -> tuple[object, object] | None:
    return next(((c.before, c.after) for c in hop.changes if c.field == field), None)


def ip_of(vm: str) -> str:
    return CLOUD.port(CLOUD.vm(vm).port_ids[0]).fixed_ips[0].ip_address


def gateway_ip() -> str:
    gw = ROUTER.external_gateway
    assert gw is not None
    return CLOUD.port(gw.port_id).fixed_ips[0].ip_address


def lvid(walker: Walker, host: str, network: str) -> int:
    return walks.lvid(CLOUD, walker.cloud, host, network)


def vni(network: str) -> int:
    seg = NET[network].segmentation_id
    assert seg is not None
    return seg


def test_the_guide_parameters() -> None:
    """VNI 101 and 102, VLAN 101, the guide's address ranges."""
    assert (vni("selfservice1"), vni("selfservice2"), vni("provider1")) == (101, 102, 101)
    assert NET["provider1"].network_type == "vlan" and NET["selfservice1"].network_type == "vxlan"


def test_north_south_fixed_ip(walker: Walker) -> None:
    """North-south scenario 1 (instance2, fixed IP only). Compute node, steps 1-7: the instance
    interface to the security group bridge (tap/qbr, where the security group rules act), qvb to
    qvo on br-int, which adds the internal VLAN tag; patch-tun to br-tun, which exchanges it
    for VNI 101 and sends it over the overlay. Network node, steps 8-13: br-tun unwraps it and
    adds the network node's internal tag for selfservice1; br-int takes it off towards the
    router's self-service interface (qr-); the router SNATs it to its gateway address on the
    provider network and sends it out of qg-. Steps 14-17: br-int adds provider1's internal tag,
    int-br-provider to phy-br-provider, br-provider swaps it for VLAN 101, out of the provider
    interface. The reply comes back the same way, un-SNATed by conntrack in the router."""
    conv = session.trace(walker, "instance2", "internet-host", warm=True, reply=True)
    hops = delivered(conv.request)
    host = CLOUD.vm("instance2").host
    assert order(hops) == [
        f"{host}/instance2", f"{host}/{hops[1].element}", f"{host}/br-int", f"{host}/br-tun",
        "/underlay", f"{NODE}/br-tun", f"{NODE}/br-int", f"{NODE}/{QROUTER}", f"{NODE}/br-int",
        f"{NODE}/br-provider", "/provider-net", "/router", "/internet-host"]
    assert hops[1].element.startswith("qbr") and hops[2].in_port.startswith("qvo")
    tag = lvid(walker, host, "selfservice1")
    assert change(at(hops, host, "br-int"), "vlan_tci") == (0, 0x1000 | tag)
    tun = at(hops, host, "br-tun")
    assert change(tun, "tun_id") == (0, 101) and change(tun, "vlan_tci") == (0x1000 | tag, 0)
    node_tun = hops[5]
    assert change(node_tun, "tun_id") == (101, 0)
    assert change(node_tun, "vlan_tci") == (0, 0x1000 | lvid(walker, NODE, "selfservice1"))
    router = at(hops, NODE, QROUTER)
    assert router.in_port.startswith("qr-") and router.out_port is not None
    assert router.out_port.startswith("qg-")
    assert change(router, "nw_src") == (ip_of("instance2"), gateway_ip())
    assert any(isinstance(s, NatStep) for s in router.steps)
    assert vlan_rewrites(at(hops, NODE, "br-provider")) == [
        (lvid(walker, NODE, "provider1"), 101)]
    assert hops[10].packet.vlan_vid == 101
    back = delivered(conv.reply)
    assert order(back) == list(reversed(order(hops)))
    assert change(at(back, NODE, QROUTER), "nw_dst") == (gateway_ip(), ip_of("instance2"))


def test_north_south_floating_ip(walker: Walker) -> None:
    """North-south scenario 2 (instance1 with floating IP 203.0.113.16), from the Internet in.
    Network node, steps 1-8: the provider interface to br-provider, which swaps VLAN 101 for the
    internal tag (in Neutron's code br-int's table 0 does the swap: int-br-provider's
    ``mod_vlan_vid``), br-int to the router's gateway interface (qg-); the router DNATs the
    floating IP to instance1's fixed IP and routes it out of qr-. Steps 9-17: br-int adds
    selfservice1's internal tag, br-tun exchanges it for VNI 101 to compute1, whose br-tun
    unwraps it and br-int delivers it through the security group bridge. The reply is SNATed
    back to the floating IP."""
    conv = session.trace(walker, "internet-host", FIP.floating_ip_address, warm=True,
                         reply=True)
    hops = delivered(conv.request)
    host = CLOUD.vm("instance1").host
    assert order(hops) == [
        "/internet-host", "/router", "/provider-net", f"{NODE}/br-provider", f"{NODE}/br-int",
        f"{NODE}/{QROUTER}", f"{NODE}/br-int", f"{NODE}/br-tun", "/underlay",
        f"{host}/br-tun", f"{host}/br-int", f"{host}/{hops[11].element}", f"{host}/instance1"]
    assert hops[2].packet.vlan_vid == 101
    assert (101, lvid(walker, NODE, "provider1")) in vlan_rewrites(hops[4])
    router = at(hops, NODE, QROUTER)
    assert router.in_port.startswith("qg-")
    assert change(router, "nw_dst") == (FIP.floating_ip_address, ip_of("instance1"))
    assert change(hops[7], "tun_id") == (0, 101)
    assert change(at(hops, host, "br-tun"), "tun_id") == (101, 0)
    back = delivered(conv.reply)
    assert change(at(back, NODE, QROUTER), "nw_src") == (ip_of("instance1"),
                                                         FIP.floating_ip_address)
    assert order(back)[-1] == "/internet-host"


def test_east_west_same_network(walker: Walker) -> None:
    """East-west scenario 1 (instance1 on compute1, instance2 on compute2, both selfservice1):
    br-tun of compute1 exchanges the internal tag for VNI 101 and tunnels straight to compute2,
    whose br-tun puts compute2's internal tag on it: the network node is never on the path."""
    hops = delivered(session.trace(walker, "instance1", "instance2", warm=True).request)
    c1, c2 = CLOUD.vm("instance1").host, CLOUD.vm("instance2").host
    assert [h.host for h in hops if h.host] == [c1] * 4 + [c2] * 4
    assert change(at(hops, c1, "br-tun"), "tun_id") == (0, 101)
    c2_tun = at(hops, c2, "br-tun")
    assert change(c2_tun, "vlan_tci") == (0, 0x1000 | lvid(walker, c2, "selfservice1"))
    assert not any(isinstance(s, NatStep) for h in hops for s in h.steps)


def test_east_west_between_networks_through_the_router(walker: Walker) -> None:
    """East-west scenario 2 (instance1 on selfservice1, instance3 on selfservice2): VNI 101 to
    the network node, whose router routes it from its selfservice1 interface to its selfservice2
    one without NAT (the source stays instance1's address), then VNI 102 to compute2."""
    hops = delivered(session.trace(walker, "instance1", "instance3", warm=True).request)
    c1, c2 = CLOUD.vm("instance1").host, CLOUD.vm("instance3").host
    assert [h for h in order(hops) if h.startswith(f"{NODE}/")] == [
        f"{NODE}/br-tun", f"{NODE}/br-int", f"{NODE}/{QROUTER}", f"{NODE}/br-int",
        f"{NODE}/br-tun"]
    assert change(at(hops, c1, "br-tun"), "tun_id") == (0, 101)
    router = at(hops, NODE, QROUTER)
    assert router.in_port.startswith("qr-") and router.out_port is not None
    assert router.out_port.startswith("qr-") and router.out_port != router.in_port
    assert change(router, "nw_src") is None and change(router, "nw_dst") is None
    assert router.out_packet is not None and router.out_packet.nw_ttl == hops[0].packet.nw_ttl - 1
    node_tuns = [h for h in hops if h.host == NODE and h.element == "br-tun"]
    assert change(node_tuns[1], "tun_id") == (0, 102)
    assert change(at(hops, c2, "br-tun"), "tun_id") == (102, 0)
    assert order(hops)[-1] == f"{c2}/instance3"
