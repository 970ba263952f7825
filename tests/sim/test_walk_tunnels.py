"""Walks over GRE and Geneve (tests/data/clouds/gre-geneve, which the conformance tests compare
with Neutron's agent): the tunnel port of each type (``gre-``/``geneve-<remote hex>``), the outer
header of each (Geneve in UDP 6081 with the VNI, GRE as IP protocol 47 with the key), and the
br-tun table of each type on the receiving host (GRE_TUN_TO_LV 3, GENEVE_TUN_TO_LV 6)."""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.agents import constants as c
from neutrace.app import session
from neutrace.packet import GENEVE_PORT, IPPROTO_GRE, IPPROTO_UDP
from neutrace.sim.walk import Walker
from neutrace.trace import HOP_UNDERLAY, Hop, RouteStep, TableLookup, TunnelStep
from tests.support.paths import DATA
from tests.support.walks import delivered

CLOUD_PATH = DATA / "clouds" / "gre-geneve.yaml"
CLOUD = topology.load(CLOUD_PATH)
NET = {n.name: n for n in CLOUD.networks}
TUNNEL_IP = {h.name: h.tunnel_ip for h in CLOUD.hosts}


@pytest.fixture(scope="module")
def walker() -> Walker:
    """The cloud's walker."""
    return session.walker(CLOUD_PATH)


def encaps(hops: tuple[Hop, ...]) -> list[tuple[TunnelStep, Hop]]:
    """Every encapsulation on the way, with its underlay hop."""
    return [(s, h) for h in hops if h.kind == HOP_UNDERLAY for s in h.steps
            if isinstance(s, TunnelStep) and s.encap]


def tables(hop: Hop) -> list[int]:
    """The OpenFlow tables a hop went through."""
    return [s.table for s in hop.steps if isinstance(s, TableLookup)]


def test_geneve_east_west(walker: Walker) -> None:
    t = session.trace(walker, "g1", "g2").request
    hops = delivered(t)
    ((step, hop),) = encaps(hops)
    assert (step.tunnel_type, step.vni) == ("geneve", NET["gnv"].segmentation_id)
    assert step.port == "geneve-0a06000c" and (step.local_ip, step.remote_ip) == (
        TUNNEL_IP["hv1"], TUNNEL_IP["hv2"])
    outer = hop.packet
    assert (outer.nw_proto, outer.tp_dst, outer.tun_id) == (IPPROTO_UDP, GENEVE_PORT, 1)
    assert outer.encapsulation == "geneve" and outer.payload is not None
    into = next(h for h in hops if h.host == "hv2" and h.element == "br-tun")
    assert into.in_port == "geneve-0a06000b"
    assert c.GENEVE_TUN_TO_LV in tables(into) and c.VXLAN_TUN_TO_LV not in tables(into)


def test_geneve_to_the_router_then_gre(walker: Walker) -> None:
    """g1 (Geneve network, hv1) to r1vm (GRE network, hv2) through r1 on net: Geneve VNI 1 to
    net, routed, GRE key 4097 to hv2."""
    t = session.trace(walker, "g1", "r1vm").request
    hops = delivered(t)
    (gnv, _), (gre, hop) = encaps(hops)
    assert (gnv.tunnel_type, gnv.host, gnv.remote_ip) == ("geneve", "hv1", TUNNEL_IP["net"])
    assert (gre.tunnel_type, gre.host, gre.vni, gre.port) == ("gre", "net", 4097,
                                                             "gre-0a06000c")
    outer = hop.packet
    assert (outer.nw_proto, outer.tp_src, outer.tp_dst) == (IPPROTO_GRE, 0, 0)
    assert outer.encapsulation == "gre"
    into = next(h for h in hops if h.host == "hv2" and h.element == "br-tun")
    assert c.GRE_TUN_TO_LV in tables(into)
    assert hops[-1].element == "r1vm"


def test_a_host_without_the_type_has_no_port_of_it() -> None:
    """net has no vxlan in tunnel_types: hv1's vxlan gets no port towards it, and no host has a
    vxlan port at all (only hv1 has vxlan)."""
    state = session.walker(CLOUD_PATH).cloud
    types = {h.name: sorted({p.type for b in h.ovs_bridges if b.name == "br-tun"
                             for p in b.ports} - {"patch"}) for h in state.hosts}
    assert types == {"net": ["geneve", "gre"], "hv1": ["geneve", "gre"],
                     "hv2": ["geneve", "gre"]}


def test_a_routed_underlay_names_the_route_it_leaves_by() -> None:
    """Two racks with their own tunnel subnets and a route to the other rack through the rack's
    gateway: the underlay hop names the route of the sender's root namespace (as ``ip route``
    prints it) besides the encapsulation."""
    w = session.walker(DATA / "clouds" / "routed-underlay.yaml")
    hops = delivered(session.trace(w, "a", "b").request)
    ((step, hop),) = encaps(hops)
    (route,) = [s for s in hop.steps if isinstance(s, RouteStep)]
    assert (route.destination, route.table) == ("10.1.2.12", "main")
    assert route.route.startswith("10.1.0.0/16 via 10.1.1.254 dev eth2 ")
    assert hops[-1].element == "b"


def test_a_single_tunnel_link_names_no_route() -> None:
    """The seed's hosts have one route (the tunnel NIC's /24): the tunnel network is one wire
    and the hop names no route (the seed's walks are unchanged)."""
    w = session.walker(session.seed_path())
    t = session.trace(w, "test-02", "203.0.113.10").request
    assert t is not None
    underlay = [h for path, _ in t.paths() for h in path if h.kind == HOP_UNDERLAY]
    assert underlay and not [s for h in underlay for s in h.steps if isinstance(s, RouteStep)]


def test_an_ipv6_underlay_stops_the_walk_with_its_reason() -> None:
    """tests/data/clouds/tunnels-ipv6 is programmed (and compared with Neutron: hashed port
    names, ip6gre) but the walk carries IPv4 tunnel metadata only: every copy that reaches a
    tunnel port stops there with that reason, none fails inside the engine."""
    from neutrace.trace import DROPPED, WalkFate, WalkWhy
    w = session.walker(DATA / "clouds" / "tunnels-ipv6.yaml")
    t = session.trace(w, "g1", "r1vm").request
    assert t is not None
    ends = [d for _, d in t.paths() if isinstance(d.cause, WalkFate)
            and d.cause.why is WalkWhy.TUNNEL_IPV6]
    assert ends and all(d.kind == DROPPED and d.host == "hv1" for d in ends)
    assert {d.element for d in ends} == {p.name for p in w.cloud.host("hv1").bridge("br-tun").ports
                                         if p.type == "geneve"}
    assert all(":" in (d.cause.ip or "") for d in ends)
