"""The ML2 server's segment allocation (``topology.ml2``): tenant networks take the first
tenant_network_types that has a segment left, VLANs from network_vlan_ranges with the physnets
in order, around the ids the file gives; the provider checks that depend on the ranges."""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.errors import TopologyError
from neutrace.model import Ml2Config

HOSTS = """
name: ml2
hosts:
  - name: c1
    management_ip: 10.0.0.1
    tunnel_ip: 10.1.0.1
    bridge_mappings: {physnet1: br-vlan, physnet2: br-vlan2}
"""


def load(ml2: str, networks: str) -> topology.Cloud:
    """A cloud of one host with the given ml2 section and networks."""
    return topology.loads(HOSTS + ml2 + "networks:\n" + networks, source="cloud.yaml")


def segments(cloud: topology.Cloud) -> list[tuple[str, str | None, int | None]]:
    """(type, physnet, segmentation id) of every network."""
    return [(n.network_type, n.physical_network, n.segmentation_id) for n in cloud.networks]


def test_tenant_vlans_fill_the_physnets_in_the_ranges_order() -> None:
    cloud = load("ml2: {tenant_network_types: [vlan], "
                 "network_vlan_ranges: ['physnet1:100:101', 'physnet2:200:299']}\n",
                 "  - {name: a}\n  - {name: b}\n  - {name: c}\n")
    assert segments(cloud) == [("vlan", "physnet1", 100), ("vlan", "physnet1", 101),
                               ("vlan", "physnet2", 200)]
    assert {n.mtu for n in cloud.networks} == {1500}
    assert cloud.ml2.vlan_physnets() == ("physnet1", "physnet2")


def test_given_vlans_are_taken_first() -> None:
    """A provider network anywhere in the file holds its VLAN before tenant networks take
    theirs (the file describes networks that exist)."""
    cloud = load("ml2: {tenant_network_types: [vlan], network_vlan_ranges: ['physnet1:100:102']}\n",
                 "  - {name: a}\n"
                 "  - {name: p, provider: {network_type: vlan, physical_network: physnet1, "
                 "segmentation_id: 101}}\n"
                 "  - {name: b}\n")
    assert segments(cloud) == [("vlan", "physnet1", 100), ("vlan", "physnet1", 101),
                               ("vlan", "physnet1", 102)]


def test_next_type_when_the_vlans_run_out() -> None:
    """``_allocate_tenant_net_segment`` tries the types in order."""
    cloud = load("ml2: {tenant_network_types: [vlan, geneve], "
                 "network_vlan_ranges: ['physnet2:7:7']}\n",
                 "  - {name: a}\n  - {name: b}\n")
    assert segments(cloud) == [("vlan", "physnet2", 7), ("geneve", None, 1)]
    assert cloud.networks[1].mtu == 1450


def test_partial_provider_segment() -> None:
    """A VLAN provider network without segmentation_id gets one of its physnet's ranges; with no
    physnet, of the first physnet that has one."""
    cloud = load("ml2: {network_vlan_ranges: [physnet1, 'physnet2:300:301']}\n",
                 "  - {name: a, provider: {network_type: vlan, physical_network: physnet2}}\n"
                 "  - {name: b, provider: {network_type: vlan}}\n"
                 "  - {name: c}\n")
    assert segments(cloud) == [("vlan", "physnet2", 300), ("vlan", "physnet1", 1),
                               ("vxlan", None, 1)]


def test_default_is_vxlan_and_no_ml2_section() -> None:
    cloud = load("", "  - {name: a}\n  - {name: b, provider: {network_type: vlan, "
                 "physical_network: physnet9, segmentation_id: 5}}\n")
    assert cloud.ml2 == Ml2Config()
    assert segments(cloud) == [("vxlan", None, 1), ("vlan", "physnet9", 5)]


def test_dump_round_trips_the_ml2_section() -> None:
    cloud = load("ml2: {tenant_network_types: [vlan, vxlan], "
                 "network_vlan_ranges: [physnet1, 'physnet2:5:9']}\n", "  - {name: a}\n")
    data = topology.dump(cloud)
    assert data["ml2"] == {"tenant_network_types": ["vlan", "vxlan"],
                           "network_vlan_ranges": ["physnet1:1:4094", "physnet2:5:9"]}
    assert topology.from_dict(data) == cloud


@pytest.mark.parametrize(("ml2", "networks", "where", "words"), [
    ("ml2: {network_vlan_ranges: ['physnet1:100:199']}\n",
     "  - {name: a, provider: {network_type: vlan, physical_network: physnet2, "
     "segmentation_id: 5}}\n",
     "networks[0].provider.physical_network", "not in ml2.network_vlan_ranges (physnet1)"),
    ("ml2: {network_vlan_ranges: ['physnet1:100']}\n", "  - {name: a}\n",
     "ml2.network_vlan_ranges[0]", "exactly two values"),
    ("ml2: {network_vlan_ranges: ['physnet1:200:100']}\n", "  - {name: a}\n",
     "ml2.network_vlan_ranges[0]", "ends before it starts"),
    ("ml2: {network_vlan_ranges: ['physnet1:0:100']}\n", "  - {name: a}\n",
     "ml2.network_vlan_ranges[0]", "0 is not a VLAN id"),
    ("ml2: {network_vlan_ranges: [':1:2']}\n", "  - {name: a}\n",
     "ml2.network_vlan_ranges[0]", "no physical network name"),
    ("ml2: {tenant_network_types: [vlan]}\n", "  - {name: a}\n",
     "ml2.tenant_network_types", "network_vlan_ranges is empty"),
    ("ml2: {tenant_network_types: []}\n", "  - {name: a}\n",
     "ml2.tenant_network_types", "is empty"),
    ("ml2: {tenant_network_types: [vlan], network_vlan_ranges: ['physnet1:5:5']}\n",
     "  - {name: a}\n  - {name: b}\n", "networks[1]", "no tenant network is available"),
    ("ml2: {tenant_network_types: [flat]}\n", "  - {name: a}\n",
     "ml2.tenant_network_types[0]", "input should be"),
])
def test_errors(ml2: str, networks: str, where: str, words: str) -> None:
    with pytest.raises(TopologyError) as info:
        load(ml2, networks)
    assert info.value.where == where
    assert words in info.value.problem
    assert info.value.fix
