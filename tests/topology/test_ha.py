"""HA routers in the topology (neutrace.topology.ha): where an HA router is scheduled, its master,
the project's HA network, the ha- ports, the VRIDs, and the refusals."""

from __future__ import annotations

import pytest

from neutrace import model, topology
from neutrace.errors import TopologyError
from tests.support.paths import REPO

HA = (REPO / "examples" / "ha" / "cloud.yaml").read_text()
ROUTER_KEYS = "    ha: true\n    ha_hosts: [network1, network2]\n    ha_master: network1\n"


def load(text: str) -> model.Cloud:
    """A cloud from topology text."""
    return topology.loads(text, "ha.yaml")


def second_router(project: str = "f986edf55ae945e2bef3cb4bfd589928", extra: str = "") -> str:
    """The example with a second HA router (on a second self-service network)."""
    text = HA.replace("vms:\n", f"""  - name: selfservice3
    project_id: {project}
    subnets: [{{name: selfservice3-v4, cidr: 10.3.0.0/24}}]

vms:
""")
    return text.replace("floating_ips:\n", f"""  - name: router3
    project_id: {project}
    ha: true
{extra}    interfaces: [{{subnet: selfservice3-v4}}]

floating_ips:
""")


def test_ha_router_network_and_ports() -> None:
    cloud = load(HA)
    (router,) = cloud.routers
    assert router.ha and not router.distributed
    assert router.ha_hosts == ("network1", "network2") and router.host == "network1"
    assert router.ha_vr_id == 1
    ha_nets = [n for n in cloud.networks if n.name.startswith("HA network")]
    assert [n.name for n in ha_nets] == [f"HA network project {router.project_id}"]
    (net,) = ha_nets
    assert (net.network_type, net.mtu, net.project_id, net.shared) == ("vxlan", 1450, "", False)
    assert net.segmentation_id == 1  # the lowest VNI the user's networks (102) leave free
    (subnet,) = cloud.subnets_of(net.id)
    assert (subnet.cidr, subnet.gateway_ip, subnet.enable_dhcp) == (
        "169.254.192.0/18", None, False)
    assert subnet.name == f"HA subnet project {router.project_id}"
    ha_ports = [cloud.port(pid) for pid in router.ha_port_ids]
    assert [p.binding_host_id for p in ha_ports] == ["network1", "network2"]
    assert [p.fixed_ips[0].ip_address for p in ha_ports] == ["169.254.192.1", "169.254.192.2"]
    assert {p.device_owner for p in ha_ports} == {model.DEVICE_OWNER_ROUTER_HA_INTF}
    assert {p.device_id for p in ha_ports} == {router.id}
    assert {p.name for p in ha_ports} == {f"HA port project {router.project_id}"}
    assert router.ha_port_on("network2") == ha_ports[1].id and router.ha_port_on("compute1") \
        is None
    # the interface and gateway ports are bound to the master
    (itf,) = [cloud.port(pid) for pid in router.interface_port_ids]
    assert itf.device_owner == model.DEVICE_OWNER_HA_REPLICATED_INT
    assert itf.binding_host_id == "network1"
    assert router.external_gateway is not None
    assert cloud.port(router.external_gateway.port_id).binding_host_id == "network1"
    # no DHCP port on the HA network
    assert not [p for p in cloud.ports_of(net.id) if p.device_owner == model.DEVICE_OWNER_DHCP]


def test_defaults_hosts_and_master() -> None:
    """Without ha_hosts: the network nodes; without ha_master: the first of them."""
    cloud = load(HA.replace(ROUTER_KEYS, "    ha: true\n"))
    (router,) = cloud.routers
    assert router.ha_hosts == ("network1", "network2") and router.host == "network1"
    cloud = load(HA.replace("    ha_master: network1\n", "    ha_master: network2\n"))
    (router,) = cloud.routers
    assert router.host == "network2"
    assert cloud.port(router.interface_port_ids[0]).binding_host_id == "network2"


def test_vrids_per_ha_network() -> None:
    """VRIDs are unique per HA network (per project): lowest free, given ones kept."""
    cloud = load(second_router())
    assert [r.ha_vr_id for r in cloud.routers] == [1, 2]
    assert len([n for n in cloud.networks if n.name.startswith("HA network")]) == 1
    cloud = load(second_router().replace("    ha_master: network1\n",
                                         "    ha_master: network1\n    ha_vr_id: 2\n"))
    assert [r.ha_vr_id for r in cloud.routers] == [2, 1]
    cloud = load(second_router(project="other"))
    assert [r.ha_vr_id for r in cloud.routers] == [1, 1]
    names = [n.name for n in cloud.networks if n.name.startswith("HA network")]
    assert names == ["HA network project f986edf55ae945e2bef3cb4bfd589928",
                     "HA network project other"]
    # ha- ports of the second router follow the first one's on the same HA network
    cloud = load(second_router())
    r3 = cloud.routers[1]
    assert [cloud.port(p).fixed_ips[0].ip_address for p in r3.ha_port_ids] == [
        "169.254.192.3", "169.254.192.4"]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    ha_master: network1\n", "    ha_master: compute1\n",
     "the master 'compute1' is not one of the router's hosts"),
    ("    ha_hosts: [network1, network2]\n", "    ha_hosts: [network1, compute1]\n",
     "host compute1 runs no L3 agent that can host an HA router"),
    ("    ha_hosts: [network1, network2]\n", "    ha_hosts: [network1, network1]\n",
     "host network1 is named twice"),
    ("    ha_hosts: [network1, network2]\n", "    ha_hosts: []\n", "has no hosts"),
    ("    ha_master: network1\n", "    ha_master: network1\n    ha_vr_id: 255\n",
     "VRID"),
    ("    ha_master: network1\n", "    ha_master: network1\n    host: network1\n",
     "name its hosts in ha_hosts"),
    ("    ha_master: network1\n", "    ha_master: network1\n    distributed: true\n",
     "DVR\\+HA routers"),
])
def test_refusals(old: str, new: str, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        load(HA.replace(old, new))


def test_duplicate_vrid_refused() -> None:
    text = second_router(extra="    ha_vr_id: 1\n").replace(
        "    ha_master: network1\n", "    ha_master: network1\n    ha_vr_id: 1\n")
    with pytest.raises(TopologyError, match="VRID 1 is already router router2's"):
        load(text)


def test_dvr_agent_cannot_host_an_ha_router() -> None:
    text = HA.replace("    roles: [network]\n    bridge_mappings", "    roles: [network]\n"
                      "    agent_mode: dvr\n    bridge_mappings", 1)
    with pytest.raises(TopologyError, match="agent_mode legacy or dvr_snat; it has roles "
                       r"\['network'\], agent_mode dvr"):
        load(text)


def test_ha_network_takes_the_tenant_network_type() -> None:
    """l3_ha_network_type unset: the HA network is a tenant network of ML2's
    tenant_network_types (a VLAN of network_vlan_ranges here)."""
    cloud = load(HA.replace("hosts:\n", "ml2:\n  tenant_network_types: [vlan]\n"
                            "  network_vlan_ranges: [\"provider:100:199\"]\n\nhosts:\n", 1))
    (net,) = [n for n in cloud.networks if n.name.startswith("HA network")]
    assert (net.network_type, net.physical_network, net.segmentation_id, net.mtu) == (
        "vlan", "provider", 100, 1500)
