"""Every examples/*/cloud.yaml loads, and each describes the cloud its comment promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrace import topology
from neutrace.model import DEVICE_OWNER_COMPUTE, DEVICE_OWNER_DHCP, Cloud
from tests.support.paths import EXAMPLES


def load(name: str) -> Cloud:
    return topology.load(EXAMPLES / name / "cloud.yaml")


def ips(cloud: Cloud, vm: str) -> list[str]:
    return [f.ip_address for pid in cloud.vm(vm).port_ids for f in cloud.port(pid).fixed_ips]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/cloud.yaml")), ids=lambda p: p.parent.name)
def test_every_example_loads(path: Path) -> None:
    cloud = topology.load(path)
    assert cloud.name == path.parent.name
    for port in cloud.ports:
        if port.binding_host_id:
            cloud.host(port.binding_host_id)  # bound to a described host
        assert port.mac_address.startswith("fa:16:3e:")


def test_eastwest() -> None:
    cloud = load("eastwest")
    (net,) = cloud.networks
    assert (net.network_type, net.segmentation_id, net.mtu) == ("vxlan", 1001, 1450)
    assert {cloud.vm("vm1").host, cloud.vm("vm2").host} == {"cmp-01", "cmp-02"}
    assert [h.name for h in cloud.hosts if h.is_network_node] == ["net-01"]
    assert not any(h.l2_population for h in cloud.hosts)


def test_l2pop_is_eastwest_with_l2population() -> None:
    eastwest, l2pop = load("eastwest"), load("l2pop")
    assert all(h.l2_population and h.arp_responder for h in l2pop.hosts)
    assert [(h.name, h.tunnel_ip) for h in l2pop.hosts] == [
        (h.name, h.tunnel_ip) for h in eastwest.hosts]
    assert ips(l2pop, "vm1") == ips(eastwest, "vm1") == ["10.10.0.10"]


def test_two_tenants() -> None:
    cloud = load("two-tenants")
    (router,) = cloud.routers
    assert router.external_gateway is None
    gateways = sorted(f.ip_address for pid in router.interface_port_ids
                      for f in cloud.port(pid).fixed_ips)
    assert gateways == ["10.1.0.1", "10.2.0.1"]
    assert cloud.vm("vm-a").host != cloud.vm("vm-b").host
    assert len([p for p in cloud.ports if p.device_owner == DEVICE_OWNER_DHCP]) == 2


def test_vlan_provider() -> None:
    cloud = load("vlan-provider")
    (net,) = cloud.networks
    assert (net.network_type, net.physical_network, net.segmentation_id) == (
        "vlan", "physnet1", 101)
    for host in cloud.hosts:
        assert host.bridge_for("physnet1") == "br-vlan"
        assert host.tunnel_ip is None and host.tunnel_types == ()
        assert [(n.name, n.segment) for n in host.physical_nics] == [("eth2", "datacenter")]
    assert cloud.segments == ("datacenter",)
    gw, far = cloud.outside
    assert (gw.ip, gw.segment, far.via) == ("10.101.0.1", "datacenter", "upstream-gw")
    assert (gw.vlan, far.vlan) == (101, None)  # the gateway talks on the provider VLAN
    dhcp = [p for p in cloud.ports if p.device_owner == DEVICE_OWNER_DHCP]
    assert [f.ip_address for f in dhcp[0].fixed_ips] == ["10.101.0.100"]  # first of the pool


def test_sg_block() -> None:
    cloud = load("sg-block")
    server = cloud.port(cloud.vm("server").port_ids[0])
    client = cloud.port(cloud.vm("client").port_ids[0])
    groups = {g.id: g for g in cloud.security_groups}
    (ssh_only,) = (groups[g] for g in server.security_groups)
    assert ssh_only.name == "ssh-only"
    ingress = [r for r in ssh_only.rules if r.direction == "ingress"]
    assert [(r.protocol, r.port_range_min, r.port_range_max) for r in ingress] == [
        ("tcp", 22, 22)]
    assert {groups[g].name for g in client.security_groups} == {"default"}
    assert all(p.device_owner != DEVICE_OWNER_COMPUTE or p.port_security_enabled
               for p in cloud.ports)


def test_the_example_in_docs_topology_md_loads() -> None:
    doc = (EXAMPLES.parent / "docs" / "topology.md").read_text()
    block = doc.split("## A short example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    cloud = topology.loads(block, source="docs/topology.md")
    (vm_port,) = (cloud.port(pid) for pid in cloud.vm("vm1").port_ids)
    assert [f.ip_address for f in vm_port.fixed_ips] == ["10.10.0.3"]  # after DHCP's .2
    (fip,) = cloud.floating_ips
    assert fip.fixed_ip_address == "10.10.0.3"
    assert cloud.routers[0].host == "net-01"
