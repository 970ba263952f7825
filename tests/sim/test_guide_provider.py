"""The Networking Guide's provider-network walks (deploy-ovs-provider, "Network traffic flow") on
examples/provider, step by step: north-south (instance1 to a host behind the physical router),
east-west between two instances of one provider network on two compute nodes, and east-west
between the two provider networks through the physical router (VLAN 101 in, VLAN 102 out).

Each test lists the guide's numbered steps it checks. The guide's "OVS provider bridge swaps the
internal VLAN tag with actual VLAN tag 101" is br-provider's table 0 ``mod_vlan_vid``, and "the
OVS integration bridge swaps the actual VLAN tag 102 with the internal VLAN tag" br-int's table 0
``set_field`` (``provision_local_vlan`` of each bridge; the conformance tests compare both with
Neutron's agent).
"""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.trace import Hop, RouteStep
from tests.support import walks
from tests.support.paths import REPO
from tests.support.walks import at, delivered, vlan_rewrites

CLOUD_PATH = REPO / "examples" / "provider" / "cloud.yaml"
CLOUD = topology.load(CLOUD_PATH)
NET = {n.name: n for n in CLOUD.networks}
ROUTER = next(o for o in CLOUD.outside if o.name == "router")


@pytest.fixture(scope="module")
def walker() -> Walker:
    """examples/provider's walker."""
    return session.walker(CLOUD_PATH)


def order(hops: tuple[Hop, ...]) -> list[str]:
    """``host/element`` in walk order (the outside's pseudo-host is empty)."""
    return [f"{h.host}/{h.element}" for h in hops]


def lvid(host: str, network: str) -> int:
    """The local VLAN of ``network`` on ``host``."""
    return walks.lvid(CLOUD, session.walker(CLOUD_PATH).cloud, host, network)


def test_the_router_has_a_leg_on_each_vlan() -> None:
    """The physical router: provider1's gateway on VLAN 101, provider2's on VLAN 102 (from the
    VLAN provider networks holding the addresses), forwarding on."""
    assert (ROUTER.ip, ROUTER.vlan) == ("203.0.113.1", 101)
    assert [(g.ip, g.segment, g.vlan) for g in ROUTER.legs] == [("192.0.2.1", "provider", 102)]
    ns = next(n for n in session.walker(CLOUD_PATH).cloud.external if n.name == "router")
    assert [i.name for i in ns.interfaces] == ["eth0.101", "eth0.102", "eth1"]
    assert ("net.ipv4.ip_forward", "1") in ns.sysctls


def test_east_west_between_provider_networks_through_the_physical_router(
        walker: Walker) -> None:
    """East-west scenario 2 (instance1 on compute1, provider1; instance2 on compute2,
    provider2). Compute node 1, steps 4-8: br-int adds the internal VLAN tag, int-br-provider
    to phy-br-provider, br-provider swaps it for VLAN 101, out of the provider interface to the
    switch. Physical network, steps 9-12: the router routes from provider network 1 to provider
    network 2 and sends it back to the switch (VLAN 102). Compute node 2, steps 13-16: into
    br-provider, across to br-int, which swaps VLAN 102 for the internal tag, out to instance2.
    """
    hops = delivered(session.trace(walker, "instance1", "instance2").request)
    assert order(hops) == [
        "compute1/instance1", f"compute1/{hops[1].element}", "compute1/br-int",
        "compute1/br-provider", "/provider", "/router", "/provider", "compute2/br-provider",
        "compute2/br-int", f"compute2/{hops[-2].element}", "compute2/instance2"]
    assert vlan_rewrites(at(hops, "compute1", "br-provider")) == [
        (lvid("compute1", "provider1"), 101)]
    segment_in, router, segment_out = hops[4], hops[5], hops[6]
    assert (segment_in.in_port, segment_in.packet.vlan_vid) == ("compute1:eth1", 101)
    assert router.in_port == "eth0.101" and router.packet.vlan_vid is None
    route = next(s for s in router.steps if isinstance(s, RouteStep))
    assert route.route.startswith("192.0.2.0/24 dev eth0.102 ")
    assert router.out_packet is not None and router.out_packet.nw_ttl == 63
    assert router.out_packet.dl_src == ROUTER.legs[0].mac
    assert (segment_out.in_port, segment_out.packet.vlan_vid) == ("router:eth0.102", 102)
    assert (102, lvid("compute2", "provider2")) in vlan_rewrites(at(hops, "compute2", "br-int"))


def test_east_west_same_network(walker: Walker) -> None:
    """East-west scenario 1 (instance1 and instance3 on provider1, compute1 and compute2): VLAN
    101 on the switch, never through the router."""
    hops = delivered(session.trace(walker, "instance1", "instance3").request)
    assert "/router" not in order(hops)
    assert [h.packet.vlan_vid for h in hops if h.element == "provider"] == [101]
    assert (101, lvid("compute2", "provider1")) in vlan_rewrites(at(hops, "compute2", "br-int"))


def test_north_south(walker: Walker) -> None:
    """North-south (instance1 to a host on the Internet): out on VLAN 101 to the router, which
    routes it; the reply comes back the same way."""
    conv = session.trace(walker, "instance1", "internet-host", reply=True)
    hops = delivered(conv.request)
    assert order(hops)[-3:] == ["/provider", "/router", "/internet-host"]
    back = delivered(conv.reply)
    assert order(back)[:3] == ["/internet-host", "/router", "/provider"]
    assert back[2].packet.vlan_vid == 101
    assert order(back)[-1] == "compute1/instance1"
