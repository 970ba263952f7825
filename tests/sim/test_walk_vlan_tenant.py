"""Walks of examples/vlan-tenant: tenant networks on VLANs ML2 allocated from
network_vlan_ranges, on two physical networks with a bridge each (physnet1 on br-vlan / eth2 /
fabric1, physnet2 on br-vlan2 / eth3 / fabric2). East-west across hosts over the VLAN segment,
and through the router on the network node from a physnet1 network to a physnet2 one: each
physical bridge swaps the host's local VLAN for the segment's VLAN on the way out
(``br_phys.provision_local_vlan``) and br-int swaps it back on the way in
(``br_int.provision_local_vlan``)."""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.trace import Hop
from tests.support import walks
from tests.support.paths import REPO
from tests.support.walks import delivered, vlan_rewrites

CLOUD_PATH = REPO / "examples" / "vlan-tenant" / "cloud.yaml"
CLOUD = topology.load(CLOUD_PATH)
NET = {n.name: n for n in CLOUD.networks}


@pytest.fixture(scope="module")
def walker() -> Walker:
    """examples/vlan-tenant's walker."""
    return session.walker(CLOUD_PATH)


def path(hops: tuple[Hop, ...]) -> list[tuple[str, str, int | None]]:
    """(host, element, VLAN id of the packet entering it), OVS bridges and segments only."""
    return [(h.host, h.element, h.packet.vlan_vid) for h in hops
            if h.element.startswith("br-") or h.host == ""]


def lvid(host: str, network: str) -> int:
    """The local VLAN of a network on a host."""
    return walks.lvid(CLOUD, session.walker(CLOUD_PATH).cloud, host, network)


def test_allocated_segments() -> None:
    """physnet1's range (100-101) is used up by blue and green: red lands on physnet2."""
    assert [(n.name, n.physical_network, n.segmentation_id) for n in CLOUD.networks] == [
        ("blue", "physnet1", 100), ("green", "physnet1", 101), ("red", "physnet2", 200)]


def test_east_west_same_network_across_hosts(walker: Walker) -> None:
    """vm1 (compute1) to vm2 (compute2) on blue: out of compute1's br-vlan with VLAN 100, over
    fabric1, into compute2's br-int as its local VLAN of blue; never through the router."""
    hops = delivered(session.trace(walker, "vm1", "vm2").request)
    assert path(hops) == [
        ("compute1", "br-int", None), ("compute1", "br-vlan", lvid("compute1", "blue")),
        ("", "fabric1", 100), ("compute2", "br-vlan", 100), ("compute2", "br-int", 100)]
    out = next(h for h in hops if h.host == "compute1" and h.element == "br-vlan")
    assert vlan_rewrites(out) == [(lvid("compute1", "blue"), 100)]
    into = next(h for h in hops if h.host == "compute2" and h.element == "br-int")
    assert (100, lvid("compute2", "blue")) in vlan_rewrites(into)
    assert hops[-1].element == "vm2"
    assert not [h for h in hops if h.element.startswith("qrouter-")]


def test_east_west_through_the_router_across_physnets(walker: Walker) -> None:
    """vm1 (blue, physnet1) to vm3 (red, physnet2, compute2) through router1 on network1: in on
    br-vlan with VLAN 100, routed in the qrouter namespace, out on br-vlan2 with VLAN 200, over
    fabric2 to compute2."""
    hops = delivered(session.trace(walker, "vm1", "vm3").request)
    qrouter = f"qrouter-{CLOUD.routers[0].id}"
    assert path(hops) == [
        ("compute1", "br-int", None), ("compute1", "br-vlan", lvid("compute1", "blue")),
        ("", "fabric1", 100), ("network1", "br-vlan", 100), ("network1", "br-int", 100),
        ("network1", "br-int", None), ("network1", "br-vlan2", lvid("network1", "red")),
        ("", "fabric2", 200), ("compute2", "br-vlan2", 200), ("compute2", "br-int", 200)]
    assert [h.element for h in hops if h.host == "network1"].count(qrouter) == 1
    out = next(h for h in hops if h.host == "network1" and h.element == "br-vlan2")
    assert vlan_rewrites(out) == [(lvid("network1", "red"), 200)]
    into = next(h for h in hops if h.host == "compute2" and h.element == "br-int")
    assert (200, lvid("compute2", "red")) in vlan_rewrites(into)
    assert hops[-1].element == "vm3"


def test_a_physical_bridge_passes_only_its_own_physnet(walker: Walker) -> None:
    """blue's flood reaches br-vlan2 too (NORMAL floods to every patch port of br-int), which
    drops it: br-vlan2 only passes the local VLANs of physnet2's networks."""
    t = session.trace(walker, "vm1", "vm2").request
    assert t is not None
    dropped = [h[-1] for h, d in t.paths() if not d.success and h[-1].element == "br-vlan2"]
    assert dropped and all(h.packet.vlan_vid == lvid(h.host, "blue") for h in dropped)
