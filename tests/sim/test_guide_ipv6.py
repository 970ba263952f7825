"""The Networking Guide's IPv6 walks on examples/dual-stack, step by step: deploy-ovs-selfservice
"North-south scenario 1: Instance with a fixed IP address" for IPv6 ("the network node performs
conventional routing of traffic between self-service and external networks") and
deploy-ovs-provider's north-south walk with the provider network's IPv6 subnet.

Each test lists the guide's numbered steps it checks; where the guide and Neutron's code differ
the test follows the code and says so (docs/agents.md, "The Guide's IPv6 walks"). The walks are
warm (MACs learned, as in the steady state the guide describes: one unicast path, no floods)."""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.trace import SUCCESS, Hop, NatStep, Trace
from tests.support.paths import EXAMPLES

PATH = EXAMPLES / "dual-stack" / "cloud.yaml"
CLOUD = topology.load(PATH)
(ROUTER,) = CLOUD.routers
QROUTER = f"qrouter-{ROUTER.id}"
NET = {n.name: n for n in CLOUD.networks}
OUTSIDE6 = "2001:db8:100::10"


@pytest.fixture(scope="module")
def walker() -> Walker:
    return session.walker(PATH)


def delivered(t: Trace | None) -> tuple[Hop, ...]:
    assert t is not None
    (hops,) = [h for h, d in t.paths() if d.kind in SUCCESS]
    return hops


def at(hops: tuple[Hop, ...], host: str, element: str, n: int = 0) -> Hop:
    found = [h for h in hops if h.host == host and h.element == element]
    assert len(found) > n, f"the walk does not pass {host}/{element}: " + \
        ", ".join(f"{h.host}/{h.element}" for h in hops)
    return found[n]


def order(hops: tuple[Hop, ...]) -> list[str]:
    return [f"{h.host}/{h.element}" for h in hops]


def change(hop: Hop, field: str) -> tuple[object, object] | None:
    for c in hop.changes:
        if c.field == field:
            return c.before, c.after
    return None


def v6_of(vm: str) -> str:
    port = CLOUD.port(CLOUD.vm(vm).port_ids[0])
    return next(f.ip_address for f in port.fixed_ips if ":" in f.ip_address)


def test_selfservice_north_south_ipv6(walker: Walker) -> None:
    """deploy-ovs-selfservice, north-south scenario 1 with IPv6 (vm1 on compute1, selfservice1):

    compute node 1: 1-3. the instance interface, the security group bridge (qbr) and its
    rules; 4-5. qvb/qvo to br-int; "adds an internal VLAN tag"; "exchanges the internal VLAN
    tag for an internal tunnel ID" — Neutron's code: br-int tags, br-tun's table 22 sets the
    tunnel id (strip_vlan,set_tunnel); 6-7. patch-tun/patch-int; 8. "wraps the packet using
    VNI 101"; 9-10. the overlay.
    network node: 11-14. br-tun unwraps (VNI 101 to the internal VLAN), patch to br-int;
    15-16. into the router's self-service interface (qr-, the IPv6 subnet's port); 17. "For
    IPv6, the router sends the packet to the next-hop IP address, typically the gateway IP
    address on the provider network, via the provider gateway interface" — no SNAT;
    18-21. br-int, int-br-provider to phy-br-provider, "swaps the internal VLAN tag with actual
    VLAN tag 101" (br-provider's mod_vlan_vid); 22-23. the physical interface, the physical
    router."""
    conv = session.trace(walker, "vm1", OUTSIDE6, reply=True, warm=True)
    hops = delivered(conv.request)
    src = v6_of("vm1")
    short = CLOUD.vm("vm1").port_ids[0][:11]
    assert order(hops)[:3] == ["compute1/vm1", f"compute1/qbr{short}", "compute1/br-int"]
    assert at(hops, "compute1", f"qbr{short}").out_port == f"qvb{short}"
    assert at(hops, "compute1", "br-int").in_port == f"qvo{short}"
    tun = at(hops, "compute1", "br-tun")
    assert change(tun, "tun_id") == (0, 101)  # VNI 101
    assert tun.packet.vlan_vid is not None and tun.out_packet is not None
    assert tun.out_packet.vlan_vid is None
    node = ROUTER.host
    rx = at(hops, node, "br-tun")
    assert rx.packet.tun_id == 101 and rx.out_port == "patch-int"
    q = at(hops, node, QROUTER)
    v6_itf = next(p for p in ROUTER.interface_port_ids
                  if any(":" in f.ip_address for f in CLOUD.port(p).fixed_ips)
                  and CLOUD.port(p).network_id == NET["selfservice1"].id)
    gw = CLOUD.port(ROUTER.external_gateway.port_id)  # type: ignore[union-attr]
    assert q.in_port == f"qr-{v6_itf[:11]}" and q.out_port == f"qg-{gw.id[:11]}"
    assert q.out_packet is not None
    assert q.out_packet.dl_dst == next(o.mac for o in CLOUD.outside if o.name == "router-v6")
    assert (q.packet.ipv6_src, q.out_packet.ipv6_src) == (src, src)  # routed, not NATed
    assert not [s for h in hops for s in h.steps if isinstance(s, NatStep)]
    brint = at(hops, node, "br-int", 1)
    assert brint.in_port == f"qg-{gw.id[:11]}" and brint.out_port == "int-br-provider"
    prov = at(hops, node, "br-provider")
    assert prov.in_port == "phy-br-provider" and prov.out_port == "eth2"
    assert prov.out_packet is not None and prov.out_packet.vlan_vid == 101
    assert order(hops)[-2:] == ["/router-v6", "/internet-host6"]
    # "Return traffic follows similar steps in reverse"
    back = delivered(conv.reply)
    assert order(back)[-1] == "compute1/vm1"
    assert at(back, node, QROUTER).in_port == f"qg-{gw.id[:11]}"


def test_provider_north_south_ipv6(walker: Walker) -> None:
    """deploy-ovs-provider, north-south (provider-vm on compute1, provider1's IPv6 subnet):

    compute node 1: 1-3. the instance interface, the security group bridge and its rules;
    4-5. to br-int; "adds an internal VLAN tag"; 6-7. ``int-br-provider`` to
    ``phy-br-provider``; "swaps the internal VLAN tag with actual VLAN tag 101"; 8-10. the
    provider network port and the physical interface to the switch.
    physical network infrastructure: 11. "the switch removes VLAN tag 101 ... and forwards it
    to the router" (neutrace: the router's 802.1Q device eth0.101); 12-16. "the router routes
    the packet from the provider network to the external network". No network node, no
    Neutron router: the guest's IPv6 default route is the physical router, which advertises
    provider1-v6 (ipv6_address_mode slaac, no ipv6_ra_mode: Neutron runs no radvd for it)."""
    conv = session.trace(walker, "provider-vm", OUTSIDE6, reply=True, warm=True)
    hops = delivered(conv.request)
    short = CLOUD.vm("provider-vm").port_ids[0][:11]
    assert order(hops) == [
        "compute1/provider-vm", f"compute1/qbr{short}", "compute1/br-int",
        "compute1/br-provider", "/provider-net", "/router-v6", "/internet-host6"]
    brint = at(hops, "compute1", "br-int")
    assert brint.in_port == f"qvo{short}" and brint.out_port == "int-br-provider"
    prov = at(hops, "compute1", "br-provider")
    assert prov.packet.vlan_vid is not None and prov.out_packet is not None
    assert prov.out_packet.vlan_vid == 101
    assert hops[-2].in_port == "eth0.101"
    assert hops[-1].packet.ipv6_src == v6_of("provider-vm")
    assert order(delivered(conv.reply))[-1] == "compute1/provider-vm"
