"""What the loader fills in, as Neutron would: pools, gateways, MTUs, ports, ids, addresses."""

from __future__ import annotations

import ipaddress
import uuid

import netaddr
from hypothesis import given
from hypothesis import strategies as st

from neutrace import topology
from neutrace.builder import CloudBuilder, port, rule
from neutrace.model import (
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_FLOATINGIP,
    DEVICE_OWNER_ROUTER_GW,
    Cloud,
)
from neutrace.topology.ipam import generate_pools as _generate_pools
from neutrace.topology.ports import dhcp_device_id


def neutron_generate_pools(cidr: str, gateway_ip: str | None) -> list[tuple[str, str]]:
    """neutron/ipam/utils.py generate_pools, written with netaddr as Neutron does."""
    net = netaddr.IPNetwork(cidr)
    ip_version = net.version
    first = netaddr.IPAddress(net.first, ip_version)
    last = netaddr.IPAddress(net.last, ip_version)
    if first == last:
        return [(str(ipaddress.ip_address(str(first))),) * 2]
    first_ip = first + 1
    last_ip = last - (ip_version == 4)
    if first_ip >= last_ip:
        return []
    ipset = netaddr.IPSet(netaddr.IPRange(first_ip, last_ip))
    if gateway_ip:
        ipset.remove(netaddr.IPAddress(gateway_ip, ip_version))
    # compared through ipaddress: netaddr writes ::1:1 as ::0.1.0.1
    return [(str(ipaddress.ip_address(str(netaddr.IPAddress(r.first, ip_version)))),
             str(ipaddress.ip_address(str(netaddr.IPAddress(r.last, ip_version)))))
            for r in ipset.iter_ipranges()]


@given(st.integers(0, 2**32 - 1), st.integers(20, 32), st.integers(0, 2**12), st.booleans())
def test_pools_match_neutron_v4(base: int, prefixlen: int, offset: int, with_gw: bool) -> None:
    net = ipaddress.IPv4Network((base, prefixlen), strict=False)
    gw = net.network_address + (offset % net.num_addresses) if with_gw else None
    ours = [(str(a), str(b)) for a, b in _generate_pools(net, gw)]
    assert ours == neutron_generate_pools(str(net), str(gw) if gw else None)


@given(st.integers(0, 2**128 - 1), st.integers(116, 128), st.integers(0, 2**12))
def test_pools_match_neutron_v6(base: int, prefixlen: int, offset: int) -> None:
    net = ipaddress.IPv6Network((base, prefixlen), strict=False)
    gw = net.network_address + (offset % net.num_addresses)
    ours = [(str(a), str(b)) for a, b in _generate_pools(net, gw)]
    assert ours == neutron_generate_pools(str(net), str(gw))


def small() -> CloudBuilder:
    return (
        CloudBuilder("fill")
        .host("net-01", "10.0.0.11", "10.1.0.11", roles=["network"], tunnel_types=["vxlan", "gre"],
              bridge_mappings={"physnet1": "br-ex"},
              physical_nics=[{"name": "eth2", "bridge": "br-ex", "segment": "dc"}])
        .host("cmp-01", "10.0.0.21", "10.1.0.21", bridge_mappings={"physnet1": "br-ex"},
              tunnel_types=["vxlan", "gre"],
              physical_nics=[{"name": "eth2", "bridge": "br-ex", "segment": "dc"}])
        .network("ext", network_type="flat", physical_network="physnet1", router_external=True)
        .subnet("ext", "ext-sub", "172.24.4.0/24", enable_dhcp=False)
        .network("t1")
        .subnet("t1", "t1-v4", "10.10.0.0/24")
        .subnet("t1", "t1-v6", "fd00:10::/64", enable_dhcp=False)
        .network("t2", network_type="gre")
        .subnet("t2", "t2-sub", "10.20.0.0/24", gateway_ip=None)
        .router("r1", external_gateway="ext", interfaces=["t1-v4"])
    )


def by_owner(cloud: Cloud, owner: str) -> list[str]:
    return [f.ip_address for p in cloud.ports if p.device_owner == owner for f in p.fixed_ips]


def test_network_defaults() -> None:
    cloud = small().build()
    ext, t1, t2 = cloud.networks
    assert (t1.network_type, t1.segmentation_id, t1.mtu) == ("vxlan", 1, 1450)
    assert (t2.network_type, t2.segmentation_id, t2.mtu) == ("gre", 1, 1458)
    assert (ext.mtu, ext.segmentation_id) == (1500, None)
    v4, v6 = cloud.subnets_of(t1.id)
    assert (v4.gateway_ip, v4.ip_version) == ("10.10.0.1", 4)
    assert [(p.start, p.end) for p in v4.allocation_pools] == [("10.10.0.2", "10.10.0.254")]
    assert (v6.gateway_ip, v6.ip_version) == ("fd00:10::1", 6)
    (t2sub,) = cloud.subnets_of(t2.id)
    assert t2sub.gateway_ip is None
    assert [(p.start, p.end) for p in t2sub.allocation_pools] == [("10.20.0.1", "10.20.0.254")]


def test_vni_allocation_skips_given_ones() -> None:
    cloud = small().network("t3", segmentation_id=1).build()
    assert [n.segmentation_id for n in cloud.networks if n.network_type == "vxlan"] == [2, 1]


def test_neutron_ports_and_allocation_order() -> None:
    cloud = (small().vm("vm1", "cmp-01", "t1", port("t2"), port("t1", "10.10.0.2"))
             .floating_ip("vm1:0").build())
    # the VM's explicit 10.10.0.2 is claimed first; DHCP (net-01) takes the next free
    dhcp = [p for p in cloud.ports if p.device_owner == DEVICE_OWNER_DHCP]
    assert [(cloud.network(p.network_id).name, [f.ip_address for f in p.fixed_ips])
            for p in dhcp] == [("t1", ["10.10.0.3"]), ("t2", ["10.20.0.1"])]
    t1 = cloud.networks[1]
    assert dhcp[0].device_id == dhcp_device_id(t1.id, "net-01")
    assert dhcp[0].device_id == f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, 'net-01')}-{t1.id}"
    assert all(p.binding_host_id == "net-01" for p in dhcp)
    vm_ips = [[f.ip_address for f in cloud.port(pid).fixed_ips]
              for pid in cloud.vm("vm1").port_ids]
    # a port without an address gets one per IP family, as Neutron's IPAM gives it
    assert vm_ips == [["10.10.0.4", "fd00:10::2"], ["10.20.0.2"], ["10.10.0.2"]]
    assert by_owner(cloud, DEVICE_OWNER_ROUTER_GW) == ["172.24.4.2"]
    assert by_owner(cloud, DEVICE_OWNER_FLOATINGIP) == ["172.24.4.3"]
    (fip,) = cloud.floating_ips
    assert (fip.floating_ip_address, fip.fixed_ip_address) == ("172.24.4.3", "10.10.0.4")
    assert fip.router_id == cloud.routers[0].id
    (fport,) = [p for p in cloud.ports if p.device_owner == DEVICE_OWNER_FLOATINGIP]
    assert (fport.binding_host_id, fport.device_id) == ("", fip.id)


def test_ids_and_macs_are_deterministic_and_seeded_by_the_cloud() -> None:
    a, b = small().vm("vm1", "cmp-01", "t1").build(), small().vm("vm1", "cmp-01", "t1").build()
    assert a == b
    ids = [p.id for p in a.ports] + [n.id for n in a.networks] + [s.id for s in a.subnets]
    assert len(set(ids)) == len(ids)
    assert len({p.mac_address for p in a.ports}) == len(a.ports)
    other = CloudBuilder("other")
    other._data = {**small().vm("vm1", "cmp-01", "t1").to_dict(), "name": "other"}
    assert {n.id for n in other.build().networks}.isdisjoint({n.id for n in a.networks})


def test_port_security_and_pairs() -> None:
    cloud = (small()
             .security_group("web", rule("ingress", "tcp", 80, 81), default_egress=False)
             .vm("vm1", "cmp-01",
                 port("t1", allowed_address_pairs=[{"ip_address": "10.10.0.0/28"}],
                      security_groups=["web", "default"]),
                 port("t1", port_security_enabled=False))
             .build())
    p1, p2 = (cloud.port(pid) for pid in cloud.vm("vm1").port_ids)
    names = {g.id: g.name for g in cloud.security_groups}
    assert [names[g] for g in p1.security_groups] == ["web", "default"]
    (pair,) = p1.allowed_address_pairs
    assert (pair.ip_address, pair.mac_address) == ("10.10.0.0/28", p1.mac_address)
    assert (p2.port_security_enabled, p2.security_groups) == (False, ())
    web = next(g for g in cloud.security_groups if g.name == "web")
    assert [(r.direction, r.protocol, r.port_range_min, r.port_range_max) for r in web.rules] == [
        ("ingress", "tcp", 80, 81)]


def test_dual_stack_port() -> None:
    cloud = small().vm("vm1", "cmp-01", port("t1", ["10.10.0.9", "fd00:10::9"])).build()
    (pid,) = cloud.vm("vm1").port_ids
    subnets = {s.id: s.name for s in cloud.subnets}
    assert [(subnets[f.subnet_id], f.ip_address) for f in cloud.port(pid).fixed_ips] == [
        ("t1-v4", "10.10.0.9"), ("t1-v6", "fd00:10::9")]


def test_local_vlan_pins_go_to_the_host() -> None:
    text = """
name: pins
hosts:
  - {name: h1, management_ip: 10.0.0.1, tunnel_ip: 10.1.0.1, roles: [compute, network],
     local_vlans: {n1: 7, n2: 3}}
networks:
  - {name: n1, subnets: [{name: s1, cidr: 10.5.0.0/24}]}
  - {name: n2}
"""
    cloud = topology.loads(text)
    n1, n2 = cloud.networks
    assert cloud.host("h1").local_vlans == ((n1.id, 7), (n2.id, 3))


def test_given_floating_address_is_claimed_before_allocation() -> None:
    cloud = small().vm("vm1", "cmp-01", "t1").floating_ip("vm1", "172.24.4.2").build()
    assert by_owner(cloud, DEVICE_OWNER_FLOATINGIP) == ["172.24.4.2"]
    assert by_owner(cloud, DEVICE_OWNER_ROUTER_GW) == ["172.24.4.3"]
