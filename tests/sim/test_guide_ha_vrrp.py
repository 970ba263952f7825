"""The Networking Guide's VRRP walk (deploy-ovs-ha-vrrp, "Network traffic flow") on examples/ha,
step by step. The page says: "This high-availability mechanism simply augments
deploy-ovs-selfservice with failover of layer-3 services to another router if the primary router
fails. Thus, you can reference Self-service network traffic flow for normal operation": the
self-service page's north-south walks, through the router namespace of the master network node.

Each test lists the guide's numbered steps it checks; where the guide and Neutron's code differ
the test follows the code (the flows and namespaces the conformance tests compare with Neutron
itself) and says so; docs/agents.md ("The Guide's VRRP walk") lists the differences. The walks
start cold: with l2population the compute node has no unicast entry for the HA router's MAC
(Neutron gives HA router ports none), so the frame is flooded to both network nodes; the
backup's copy ends in its router namespace, which has neither address nor route.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrace import topology
from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.trace import STEP_NAT, DispositionKind, Hop, TableLookup, Trace
from tests.support.paths import REPO
from tests.support.walk_path import at, change, delivered, order

CLOUD_PATH = REPO / "examples" / "ha" / "cloud.yaml"
CLOUD = topology.load(CLOUD_PATH)
(ROUTER,) = CLOUD.routers
QROUTER = f"qrouter-{ROUTER.id}"
(FIP,) = CLOUD.floating_ips
NET = {n.name: n for n in CLOUD.networks}
GW = ROUTER.external_gateway
assert GW is not None
QG = f"qg-{GW.port_id[:11]}"
QR = f"qr-{ROUTER.interface_port_ids[0][:11]}"
GW_IP = CLOUD.port(GW.port_id).fixed_ips[0].ip_address


@pytest.fixture(scope="module")
def walker() -> Walker:
    """examples/ha's walker (network1 master)."""
    return session.walker(CLOUD_PATH)


def backup_copies(t: Trace | None, backup: str) -> list[tuple[Hop, ...]]:
    """The copies that reached the backup's router namespace: each ends there, no route."""
    assert t is not None
    out = []
    for hops, d in t.paths():
        if any(h.host == backup and h.element == QROUTER for h in hops):
            assert (d.kind, d.host, d.element) == (DispositionKind.NO_ROUTE, backup, QROUTER)
            out.append(hops)
    return out


def test_north_south_fixed_ip_through_the_master(walker: Walker) -> None:
    """Self-service north-south scenario 1 (instance with a fixed IPv4 address), compute node:

    1-3. the instance's interface, the security group bridge (its rules), br-int;
    4. br-int adds the internal VLAN tag;
    5. "The integration bridge exchanges the internal VLAN tag for an internal tunnel ID" —
       Neutron's code: br-tun does it (table 22 ``set_field:...->tun_id``);
    6-8. patch-int, br-tun wraps it in VXLAN with the network's VNI (102), the overlay to the
       network node (the master, network1);
    network node: 9-12. br-tun unwraps it, tunnel id to internal VLAN, br-int;
    13. br-int removes the VLAN and forwards to the router's self-service interface (qr-) in the
       router namespace, which performs SNAT to its provider address and sends it to the
       gateway (203.0.113.1) via its gateway interface (qg-);
    14-18. br-int (the provider network's internal VLAN), int-br-provider/phy-br-provider, the
       provider bridge — "swaps the internal VLAN tag with actual VLAN tag 101" in the guide;
       provider1 is flat here (as the DVR walk's), so Neutron's br-provider strips it — and
       out of the provider interface (eth1);
    19. the physical network to the Internet.
    The router namespace that does all this is the master's; the backup (network2) takes no
    part (its copy of the flooded frame ends in its namespace: no address, no route)."""
    conv = session.trace(walker, "instance3", "internet-host", reply=True)
    hops = delivered(conv.request)
    src = CLOUD.vm("instance3").host
    port = CLOUD.vm("instance3").port_ids[0][:11]
    assert order(hops) == [
        f"{src}/instance3", f"{src}/qbr{port}", f"{src}/br-int", f"{src}/br-tun", "/underlay",
        "network1/br-tun", "network1/br-int", f"network1/{QROUTER}", "network1/br-int",
        "network1/br-provider", "/provider", "/provider-gw", "/internet-host"]
    tun = at(hops, src, "br-tun")
    assert 22 in [st.table for st in tun.steps if isinstance(st, TableLookup)]  # FLOOD_TO_TUN
    wire = at(hops, "", "underlay")
    assert (wire.packet.tun_id, wire.packet.tun_dst) == (
        NET["selfservice2"].segmentation_id, CLOUD.host("network1").tunnel_ip)
    assert at(hops, "network1", "br-tun").packet.tun_id == NET["selfservice2"].segmentation_id
    q = at(hops, "network1", QROUTER)
    assert (q.in_port, q.out_port) == (QR, QG)
    assert change(q, "nw_src") == ("198.51.100.5", GW_IP)
    assert any(s.kind == STEP_NAT for s in q.steps)
    wire = at(hops, "", "provider")
    assert (wire.in_port, wire.packet.vlan_tci) == ("network1:eth1", 0)  # untagged (flat)
    assert not [h for h in hops if h.host == "network2"]
    (backup,) = backup_copies(conv.request, "network2")
    assert at(backup, "network2", QROUTER).in_port == QR
    back = delivered(conv.reply)
    assert f"network1/{QROUTER}" in order(back) and order(back)[-1] == f"{src}/instance3"
    assert change(at(back, "network1", QROUTER), "nw_dst") == (GW_IP, "198.51.100.5")


def test_north_south_floating_ip_through_the_master(walker: Walker) -> None:
    """Self-service north-south scenario 2 (instance with a floating IPv4 address), from the
    Internet: the provider network to the network node's provider interface and bridge, br-int,
    the router's gateway interface (qg-), DNAT of the floating IP (203.0.113.17) to the
    instance's fixed address, the self-service interface, br-int, br-tun, VXLAN 102 to the
    compute node, the instance. Only the master holds 203.0.113.17 (a keepalived VIP)."""
    conv = session.trace(walker, "internet-host", FIP.floating_ip_address, reply=True)
    hops = delivered(conv.request)
    assert [e for e in order(hops) if e.startswith("network")] == [
        "network1/br-provider", "network1/br-int", f"network1/{QROUTER}", "network1/br-int",
        "network1/br-tun"]
    q = at(hops, "network1", QROUTER)
    assert (q.in_port, q.out_port) == (QG, QR)
    assert change(q, "nw_dst") == (FIP.floating_ip_address, FIP.fixed_ip_address)
    assert order(hops)[-1] == "compute1/instance2"
    (backup,) = backup_copies(conv.request, "network2")
    assert at(backup, "network2", QROUTER).in_port == QG
    back = delivered(conv.reply)
    assert change(at(back, "network1", QROUTER), "nw_src") == (
        FIP.fixed_ip_address, FIP.floating_ip_address)


def test_changing_the_master_moves_the_path(tmp_path: Path) -> None:
    """The same walk with network2 as master (keepalived's election, stated in the topology):
    the router namespace of network2 routes and NATs it; network1's copy now dies there."""
    text = CLOUD_PATH.read_text().replace("    ha_master: network1\n",
                                          "    ha_master: network2\n")
    path = tmp_path / "cloud.yaml"
    path.write_text(text)
    w = session.walker(path)
    conv = session.trace(w, "instance3", "internet-host", reply=True)
    hops = delivered(conv.request)
    assert f"network2/{QROUTER}" in order(hops)
    assert not [h for h in hops if h.host == "network1"]
    assert at(hops, "", "provider").in_port == "network2:eth1"
    assert change(at(hops, "network2", QROUTER), "nw_src") == ("198.51.100.5", GW_IP)
    assert backup_copies(conv.request, "network1")
    back = delivered(conv.reply)
    assert f"network2/{QROUTER}" in order(back)
    assert not [h for h in back if h.host == "network1"]
