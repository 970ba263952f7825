"""The Python builder gives the same Cloud as the equivalent topology file, errors included."""

from __future__ import annotations

import pytest
import yaml

from neutrace import topology
from neutrace.builder import CloudBuilder, port, rule
from neutrace.errors import TopologyError
from neutrace.model import Cloud
from tests.support.paths import SEED_YAML

SEED = SEED_YAML


def seed_builder() -> CloudBuilder:
    ext = {"external": "br-ex"}
    nics = [{"name": "eth3", "bridge": "br-ex", "segment": "external"}]
    return (
        CloudBuilder("seed")
        .host("test-ctrl-01", "192.168.100.11", "192.168.120.11", roles=["network"],
              bridge_mappings=ext, physical_nics=nics, tunnel_types=["vxlan"])
        .host("test-cmpt-01", "192.168.100.21", "192.168.120.21", roles=["compute"],
              bridge_mappings=ext, physical_nics=nics, tunnel_types=["vxlan"])
        .host("test-cmpt-02", "192.168.100.22", "192.168.120.22", roles=["compute"],
              bridge_mappings=ext, physical_nics=nics, tunnel_types=["vxlan"],
              local_vlans={"public_net": 2, "share_net": 1})
        .network("public_net", network_type="flat", physical_network="external",
                 router_external=True)
        .subnet("public_net", "public_subnet", "192.168.100.0/24", gateway_ip="192.168.100.1",
                enable_dhcp=False, allocation_pools=[("192.168.100.100", "192.168.100.200")])
        .network("share_net", network_type="vxlan", segmentation_id=65616)
        .subnet("share_net", "share_subnet", "192.168.111.0/24", gateway_ip="192.168.111.1")
        .dhcp_port("share_net", "test-ctrl-01", id="96835b35-be6a-4d39-b0c2-8f4e1a7d6c35")
        .vm("test-01", "test-cmpt-02",
            port("public_net", "192.168.100.101", id="af305168-66b2-4c1e-9a57-3d0e8f1b2c44"))
        .vm("test-02", "test-cmpt-02", port("share_net", "192.168.111.4"))
        .router("router1", id="c8aec0d9-3203-4bdb-9237-9818603f521f", host="test-ctrl-01",
                external_gateway="public_net", gateway_ip="192.168.100.103", enable_snat=True,
                gateway_port_id="169d638e-0e47-4f2a-8b6c-5e1d3a9c7f20",
                interfaces=[{"subnet": "share_subnet",
                             "port_id": "466214fa-3d8c-4b5e-a1f0-7c2d9e6b5a13"}])
        .floating_ip("test-02:0", "192.168.100.102")
        .outside("upstream-gw", "192.168.100.1", segment="external")
        .outside("internet-host", "203.0.113.10", via="upstream-gw")
    )


def test_seed_built_in_python_equals_seed_yaml() -> None:
    assert seed_builder().build() == topology.load(SEED)


def test_builder_dict_round_trips_through_yaml() -> None:
    builder = seed_builder()
    text = yaml.safe_dump(builder.to_dict(), sort_keys=False)
    assert topology.loads(text) == builder.build()


def test_builder_differs_when_the_cloud_differs() -> None:
    changed = seed_builder().vm("test-03", "test-cmpt-01", "share_net").build()
    assert changed != topology.load(SEED)
    (extra,) = changed.vm("test-03").port_ids
    # first free address of share_subnet after DHCP (.2), the router (.1) and test-02 (.4)
    assert [f.ip_address for f in changed.port(extra).fixed_ips] == ["192.168.111.3"]


def test_builder_security_group_rules() -> None:
    cloud: Cloud = (
        CloudBuilder("sg")
        .host("cmp", "10.0.0.21", "10.1.0.21", roles=["compute", "network"])
        .network("net1")
        .subnet("net1", "sub1", "192.168.1.0/24")
        .security_group("ssh", rule("ingress", "tcp", 22))
        .vm("vm1", "cmp", port("net1", security_groups=["ssh"]))
        .build()
    )
    (group,) = cloud.security_groups
    assert [(r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max)
            for r in group.rules] == [("egress", "IPv4", None, None, None),
                                      ("egress", "IPv6", None, None, None),
                                      ("ingress", "IPv4", "tcp", 22, 22)]


def test_builder_errors_name_the_builder_and_the_path() -> None:
    with pytest.raises(TopologyError) as info:
        seed_builder().vm("bad", "test-cmpt-01", port("share_net", "10.9.9.9")).build()
    assert str(info.value).startswith("<builder>: vms[2].ports[0].ip: IP 10.9.9.9 is outside")
    with pytest.raises(TopologyError, match="unknown network 'nope'"):
        CloudBuilder("x").host("h", "10.0.0.1").subnet("nope", "s", "10.0.0.0/24").build()
