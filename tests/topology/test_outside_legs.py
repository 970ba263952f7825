"""Outside routers with legs on more segments or VLANs and static routes (topology.outside,
agents.outside), and the tunnel NIC that may not be a physical bridge's NIC (topology.hosts)."""

from __future__ import annotations

import pytest

from neutrace import agents, topology
from neutrace.dataplane import Namespace
from neutrace.errors import TopologyError

BASE = """
name: legs
hosts:
  - name: c1
    management_ip: 10.0.0.1
    bridge_mappings: {physnet1: br-vlan, ext: br-ex}
    physical_nics:
      - {name: eth2, bridge: br-vlan, segment: fabric}
      - {name: eth3, bridge: br-ex, segment: dmz}
networks:
  - name: n101
    provider: {network_type: vlan, physical_network: physnet1, segmentation_id: 101}
    subnets: [{name: s101, cidr: 10.101.0.0/24, enable_dhcp: false}]
  - name: n102
    provider: {network_type: vlan, physical_network: physnet1, segmentation_id: 102}
    subnets: [{name: s102, cidr: 10.102.0.0/26, enable_dhcp: false}]
outside:
"""
ROUTER = """  - name: r
    ip: 10.101.0.1
    segment: fabric
    legs:
      - {segment: fabric, ip: 10.102.0.1}
      - {segment: dmz, ip: 172.31.0.1, prefixlen: 28}
    routes: [{destination: 198.51.100.0/24, nexthop: 172.31.0.14}]
  - {name: far, ip: 203.0.113.9, via: r}
"""


def load(outside: str) -> topology.Cloud:
    """The base cloud with the given outside list."""
    return topology.loads(BASE + outside, source="cloud.yaml")


def namespace(cloud: topology.Cloud, name: str) -> Namespace:
    """An outside namespace as the agents program it."""
    return next(n for n in agents.program(cloud).external if n.name == name)


def test_legs_get_their_vlans_prefixes_nics_and_routes() -> None:
    cloud = load(ROUTER)
    r = cloud.outside[0]
    assert [(g.ip, g.segment, g.prefixlen, g.vlan) for g in r.legs] == [
        ("10.102.0.1", "fabric", 26, 102), ("172.31.0.1", "dmz", 28, None)]
    assert r.routes == (("198.51.100.0/24", "172.31.0.14"),) and r.forwards
    ns = namespace(cloud, "r")
    assert [(i.name, i.segment, i.vlan, i.addresses) for i in ns.interfaces] == [
        ("eth0.101", "fabric", 101, ("10.101.0.1/24",)),
        ("eth0.102", "fabric", 102, ("10.102.0.1/26",)),
        ("eth1", "dmz", None, ("172.31.0.1/28",)),
        ("eth2", None, None, ("203.0.113.1/24",))]
    static = [x for x in ns.routes if x.gateway]
    assert [(x.destination, x.device, x.gateway) for x in static] == [
        ("198.51.100.0/24", "eth1", "172.31.0.14")]
    assert ("net.ipv4.ip_forward", "1") in ns.sysctls
    far = namespace(cloud, "far")
    assert far.interfaces[0].peer == "eth2"
    assert topology.from_dict(topology.dump(cloud)) == cloud


def test_a_gateway_without_legs_is_unchanged() -> None:
    """A plain gateway keeps eth0 and numbers the veths to the hosts behind it from eth1."""
    cloud = load("  - {name: gw, ip: 10.101.0.1, segment: fabric}\n"
                 "  - {name: far, ip: 203.0.113.9, via: gw}\n")
    assert [i.name for i in namespace(cloud, "gw").interfaces] == ["eth0.101", "eth1"]
    assert namespace(cloud, "far").interfaces[0].peer == "eth1"


@pytest.mark.parametrize(("outside", "where", "words"), [
    ("  - {name: r, ip: 10.101.0.1, segment: fabric, legs: [{segment: nowhere, ip: 1.2.3.4}]}\n",
     "outside[0].legs[0].segment", "unknown segment 'nowhere'"),
    ("  - {name: r, ip: 10.101.0.1, segment: fabric, legs: [{segment: fabric, ip: 10.101.0.2}]}\n",
     "outside[0].legs[0]", "already has a leg on VLAN 101 of fabric"),
    ("  - {name: r, ip: 10.101.0.1, segment: fabric, legs: [{segment: dmz, ip: 10.101.0.1}]}\n",
     "outside[0].legs[0].ip", "outside IP"),
    ("  - {name: r, ip: 10.101.0.1, segment: fabric,\n"
     "     routes: [{destination: 198.51.100.0/24, nexthop: 172.31.0.14}]}\n",
     "outside[0].routes[0].nexthop", "is not on a link of r"),
    ("  - {name: r, ip: 10.101.0.1, segment: fabric,\n"
     "     routes: [{destination: 2001:db8::/64, nexthop: 10.101.0.7}]}\n",
     "outside[0].routes[0].destination", "different IP versions"),
    ("  - {name: gw, ip: 10.101.0.1, segment: fabric}\n"
     "  - {name: far, ip: 203.0.113.9, via: gw, legs: [{segment: dmz, ip: 172.31.0.1}]}\n",
     "outside[1].legs", "only a host on a segment has more legs"),
])
def test_leg_errors(outside: str, where: str, words: str) -> None:
    with pytest.raises(TopologyError) as info:
        load(outside)
    assert info.value.where == where
    assert words in info.value.problem
    assert info.value.fix


def test_a_tunnel_nic_on_a_physical_bridge_is_refused() -> None:
    text = BASE.replace("    management_ip: 10.0.0.1\n",
                        "    management_ip: 10.0.0.1\n    tunnel_ip: 10.9.0.1\n"
                        "    tunnel_nic: eth3\n")
    with pytest.raises(TopologyError) as info:
        topology.loads(text + "  []\n", source="cloud.yaml")
    assert info.value.where == "hosts[0].tunnel_nic"
    assert "tunnel NIC eth3 (tunnel_ip 10.9.0.1) collides with physical NIC eth3 of br-ex" \
        in info.value.problem
    assert "set tunnel_nic: eth0" in info.value.fix


@pytest.mark.parametrize(("routes", "words"), [
    ("[{destination: 10.1.0.0/16, nexthop: 10.2.0.1}]", "is not reachable from eth1's link"),
    ("[{destination: 2001:db8::/64, nexthop: 10.9.0.254}]", "is not reachable"),
    ("[{destination: 10.1.0.0/16, nexthop: 10.9.0.1}]", "is not reachable"),
])
def test_tunnel_route_errors(routes: str, words: str) -> None:
    text = BASE.replace("    management_ip: 10.0.0.1\n",
                        f"    management_ip: 10.0.0.1\n    tunnel_ip: 10.9.0.1\n"
                        f"    tunnel_routes: {routes}\n")
    with pytest.raises(TopologyError) as info:
        topology.loads(text + "  []\n", source="cloud.yaml")
    assert info.value.where == "hosts[0].tunnel_routes[0]"
    assert words in info.value.problem


def test_tunnel_routes_are_routes_of_the_root_namespace() -> None:
    text = BASE.replace("    management_ip: 10.0.0.1\n",
                        "    management_ip: 10.0.0.1\n    tunnel_ip: 10.9.0.1\n"
                        "    tunnel_routes: [{destination: 10.8.0.0/16, nexthop: 10.9.0.254}]\n")
    cloud = topology.loads(text + "  []\n", source="cloud.yaml")
    assert cloud.hosts[0].tunnel_routes == (("10.8.0.0/16", "10.9.0.254"),)
    host = agents.program(cloud).hosts[0]
    root = next(n for n in host.namespaces if n.name == "")
    assert [(r.destination, r.device, r.gateway) for r in root.routes] == [
        ("10.9.0.0/24", "eth1", None), ("10.8.0.0/16", "eth1", "10.9.0.254")]
    assert topology.from_dict(topology.dump(cloud)) == cloud
