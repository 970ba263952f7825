"""The Networking Guide's DVR walks (deploy-ovs-ha-dvr, "Network traffic flow") on examples/dvr,
step by step: north-south with a fixed IP (through the snat- namespace of the network node),
north-south with a floating IP (through the compute node's fip- namespace, both ways) and
east-west between two self-service networks (routed on the sender's compute node).

Each test lists the guide's numbered steps it checks; where the guide and Neutron's code differ
the test follows the code (Neutron's flows and namespaces, which the conformance tests compare
with Neutron itself) and says so; docs/agents.md ("The Guide's DVR walks") lists the
differences.
"""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.trace import STEP_NAT, Hop, TableLookup
from tests.support.paths import REPO
from tests.support.walk_path import at, change, delivered, order

CLOUD_PATH = REPO / "examples" / "dvr" / "cloud.yaml"
CLOUD = topology.load(CLOUD_PATH)
ROUTER = CLOUD.routers[0]
QROUTER = f"qrouter-{ROUTER.id}"
SNAT = f"snat-{ROUTER.id}"
(FIP,) = CLOUD.floating_ips
FIP_NS = f"fip-{FIP.floating_network_id}"
DVR_MAC = {h.name: h.dvr_mac for h in CLOUD.hosts}
NET = {n.name: n for n in CLOUD.networks}


def port_of(vm: str) -> str:
    """The id of a VM's first port."""
    return CLOUD.vm(vm).port_ids[0]


def gateway_mac(network: str) -> str:
    """The MAC of the router's interface on ``network`` (the same on every host)."""
    return next(CLOUD.port(p).mac_address for p in ROUTER.interface_port_ids
                if CLOUD.port(p).network_id == NET[network].id)


@pytest.fixture(scope="module")
def walker() -> Walker:
    """examples/dvr's walker."""
    return session.walker(CLOUD_PATH)


def tables(hop: Hop) -> list[int]:
    """The OpenFlow tables a hop went through."""
    return [s.table for s in hop.steps if isinstance(s, TableLookup)]


def test_north_south_fixed_ip_through_snat(walker: Walker) -> None:
    """North-south scenario 1: "Similar to [the self-service walk], except the router namespace
    on the network node becomes the SNAT namespace. The network node still contains the router
    namespace, but it serves no purpose in this case."

    Neutron's code, in more detail: the instance's packet is routed by the distributed router
    on its own compute node, whose rule for the subnet sends it to the SNAT port (``sg-``) of the
    network node (table = the qr- address as an integer); it crosses the tunnel with the compute
    node's DVR MAC as source; on the network node br-int gives it the gateway's MAC back and the
    snat- namespace applies SNAT to the router's gateway address. The qrouter- namespace of the
    network node is indeed not on the path."""
    conv = session.trace(walker, "vm2", "internet-host", reply=True)
    hops = delivered(conv.request)
    vm_host = CLOUD.vm("vm2").host
    q = at(hops, vm_host, QROUTER)
    sg = CLOUD.port(ROUTER.snat_port_ids[0])
    assert q.out_packet is not None and q.out_packet.dl_dst == sg.mac_address
    tun = at(hops, vm_host, "br-tun")
    assert change(tun, "dl_src") == (gateway_mac("selfservice1"), DVR_MAC[vm_host])
    assert change(tun, "tun_id") == (0, NET["selfservice1"].segmentation_id)
    assert 1 in tables(tun)  # DVR_PROCESS
    node = ROUTER.host
    brint = at(hops, node, "br-int")
    assert change(brint, "dl_src") == (DVR_MAC[vm_host], gateway_mac("selfservice1"))
    assert 1 in tables(brint)  # DVR_TO_SRC_MAC
    snat = at(hops, node, SNAT)
    gw_ip = CLOUD.port(ROUTER.external_gateway.port_id).fixed_ips[0].ip_address  # type: ignore[union-attr]
    assert change(snat, "nw_src") == ("192.0.2.12", gw_ip)
    assert any(s.kind == STEP_NAT for s in snat.steps)
    assert not [h for h in hops if h.host == node and h.element == QROUTER]
    back = delivered(conv.reply)
    assert change(at(back, node, SNAT), "nw_dst") == (gw_ip, "192.0.2.12")
    assert order(back)[-1] == f"{vm_host}/vm2"


def test_north_south_floating_ip(walker: Walker) -> None:
    """North-south scenario 2, steps of the compute node:

    1-2. the physical network forwards the packet to the provider interface (``eth1``);
    3. to the OVS provider bridge; "swaps actual VLAN tag 101 with the internal VLAN tag" —
       Neutron's code: provider1 is flat (deploy-ovs-selfservice creates it so), and the
       internal VLAN is pushed by br-int's table 0 (``int-br-provider``, ``vlan_tci=0``), not
       by the provider bridge;
    4-5. ``phy-br-provider`` to ``int-br-provider``;
    6-7. br-int removes the internal VLAN and delivers it to the provider network interface
       of the floating IP namespace (``fg-``), which "responds to any ARP requests for the
       instance floating IPv4 address" (proxy ARP);
    8-9. the fip- namespace routes it to the distributed router namespace over the rfp-/fpr-
       pair of link-local addresses. "This namespace contains the instance floating IPv4
       address" — in Neutron's code no interface holds it: qrouter- only DNATs it;
    10-11. DNAT to the instance's address, out of the self-service interface to br-int;
    12-16. the security group bridge and the instance.
    Egress "follows similar steps in reverse, except SNAT changes the source IPv4 address of
    the packet to the floating IPv4 address"."""
    host = FIP.host
    conv = session.trace(walker, "internet-host", FIP.floating_ip_address, reply=True)
    hops = delivered(conv.request)
    assert [e for e in order(hops) if e.startswith(f"{host}/")] == [
        f"{host}/br-provider", f"{host}/br-int", f"{host}/{FIP_NS}", f"{host}/{QROUTER}",
        f"{host}/br-int", f"{host}/qbr{port_of('vm1')[:11]}", f"{host}/vm1"]
    assert at(hops, host, "br-provider").in_port == "eth1"
    brint = at(hops, host, "br-int")
    assert brint.in_port == "int-br-provider"
    fg = next(i for i in walker.cloud.host(host).namespace(FIP_NS).interfaces  # type: ignore[union-attr]
              if i.name.startswith("fg-"))
    fip_ns = at(hops, host, FIP_NS)
    assert fip_ns.in_port == fg.name and fip_ns.out_port and fip_ns.out_port.startswith("fpr-")
    assert fip_ns.packet.dl_dst == fg.mac  # the proxy ARP answer of fg-
    q = at(hops, host, QROUTER)
    assert q.in_port.startswith("rfp-")
    assert change(q, "nw_dst") == (FIP.floating_ip_address, FIP.fixed_ip_address)
    assert not any(a.startswith(FIP.floating_ip_address + "/")
                   for i in walker.cloud.host(host).namespace(QROUTER).interfaces  # type: ignore[union-attr]
                   for a in i.addresses)
    back = delivered(conv.reply)
    q_back = at(back, host, QROUTER)
    assert change(q_back, "nw_src") == (FIP.fixed_ip_address, FIP.floating_ip_address)
    assert q_back.out_port is not None and q_back.out_port.startswith("rfp-")
    assert at(back, host, FIP_NS).out_port == fg.name
    # nothing of this crosses a tunnel or the network node
    assert all(h.host in (host, "") for h in hops + back)


def test_east_west_routed_on_the_sending_node(walker: Walker) -> None:
    """East-west scenario 1, instance 1 (self-service network 1, compute node 1) to instance 2
    (self-service network 2, compute node 2): security group bridge, br-int, the distributed
    router namespace "routes the packet to self-service network 2", br-int, patch-tun, the
    tunnel bridge "wraps the packet using VNI 101", compute node 2's tunnel bridge, br-int, the
    security group bridge, instance 2; "routing ... occurs on the compute node containing the
    instance sending the packet".

    Neutron's code: the VNI is self-service network 2's (102 here: the packet is already on
    network 2 when it is tunnelled), the VLAN tag becomes the tunnel id on br-tun (not br-int),
    br-tun's DVR_PROCESS table replaces the router port's MAC by compute node 1's DVR MAC, and
    compute node 2's br-int (DVR_TO_SRC_MAC) puts the gateway's MAC back and outputs straight to
    the instance's port. The reply is routed on compute node 2."""
    src_host, dst_host = CLOUD.vm("vm1").host, CLOUD.vm("vm3").host
    assert src_host != dst_host
    conv = session.trace(walker, "vm1", "vm3", reply=True)
    hops = delivered(conv.request)
    assert order(hops) == [
        f"{src_host}/vm1", f"{src_host}/qbr{port_of('vm1')[:11]}", f"{src_host}/br-int",
        f"{src_host}/{QROUTER}", f"{src_host}/br-int", f"{src_host}/br-tun", "/underlay",
        f"{dst_host}/br-tun", f"{dst_host}/br-int", f"{dst_host}/qbr{port_of('vm3')[:11]}",
        f"{dst_host}/vm3"]
    q = at(hops, src_host, QROUTER)
    assert q.in_port.startswith("qr-") and q.out_port and q.out_port.startswith("qr-")
    assert change(q, "dl_src") == (CLOUD.port(port_of("vm1")).mac_address,
                                   gateway_mac("selfservice2"))
    tun = at(hops, src_host, "br-tun")
    assert change(tun, "tun_id") == (0, NET["selfservice2"].segmentation_id)
    assert change(tun, "dl_src") == (gateway_mac("selfservice2"), DVR_MAC[src_host])
    assert at(hops, src_host, "br-int", 1).in_port.startswith("qr-")
    assert change(at(hops, dst_host, "br-tun"), "tun_id") == (
        NET["selfservice2"].segmentation_id, 0)
    brint = at(hops, dst_host, "br-int")
    assert change(brint, "dl_src") == (DVR_MAC[src_host], gateway_mac("selfservice2"))
    assert tables(brint)[:2] == [0, 1] and 60 in tables(brint)
    # no router namespace on the destination node is on the way
    assert f"{dst_host}/{QROUTER}" not in order(hops)
    back = delivered(conv.reply)
    assert f"{dst_host}/{QROUTER}" in order(back) and f"{src_host}/{QROUTER}" not in order(back)
