"""The seed's cloud (examples/seed/cloud.yaml) loads into the blog's names, ids and addresses."""

from __future__ import annotations

import pytest

from neutrace import topology
from neutrace.model import (
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_ROUTER_GW,
    DEVICE_OWNER_ROUTER_INTF,
    Cloud,
)
from tests.support.paths import SEED_YAML

SEED = SEED_YAML


@pytest.fixture(scope="module")
def seed() -> Cloud:
    return topology.load(SEED)


def test_hosts(seed: Cloud) -> None:
    assert [h.name for h in seed.hosts] == ["test-ctrl-01", "test-cmpt-01", "test-cmpt-02"]
    expected = {
        "test-ctrl-01": ("192.168.100.11", "192.168.120.11"),
        "test-cmpt-01": ("192.168.100.21", "192.168.120.21"),
        "test-cmpt-02": ("192.168.100.22", "192.168.120.22"),
    }
    for host in seed.hosts:
        assert (host.management_ip, host.tunnel_ip) == expected[host.name]
        assert host.bridge_for("external") == "br-ex"
        assert [(n.name, n.bridge, n.segment) for n in host.physical_nics] == [
            ("eth3", "br-ex", "external")
        ]
        assert host.tunnel_types == ("vxlan",)
    assert [h.name for h in seed.hosts if h.is_network_node] == ["test-ctrl-01"]
    assert seed.segments == ("external",)


def test_networks(seed: Cloud) -> None:
    public = next(n for n in seed.networks if n.name == "public_net")
    share = next(n for n in seed.networks if n.name == "share_net")
    assert (public.network_type, public.physical_network, public.router_external) == (
        "flat", "external", True)
    assert (share.network_type, share.segmentation_id, share.router_external) == (
        "vxlan", 0x10050, False)
    (pub_sub,) = seed.subnets_of(public.id)
    (share_sub,) = seed.subnets_of(share.id)
    assert (pub_sub.cidr, pub_sub.gateway_ip, pub_sub.enable_dhcp) == (
        "192.168.100.0/24", "192.168.100.1", False)
    assert (share_sub.cidr, share_sub.gateway_ip, share_sub.enable_dhcp) == (
        "192.168.111.0/24", "192.168.111.1", True)
    cmpt2 = seed.host("test-cmpt-02")
    assert dict(cmpt2.local_vlans) == {public.id: 2, share.id: 1}


def test_vms_and_ports(seed: Cloud) -> None:
    test01, test02 = seed.vm("test-01"), seed.vm("test-02")
    assert test01.host == test02.host == "test-cmpt-02"
    p1, p2 = seed.port(test01.port_ids[0]), seed.port(test02.port_ids[0])
    assert p1.id.startswith("af305168-66") and "tap" + p1.short_id == "tapaf305168-66"
    assert [f.ip_address for f in p1.fixed_ips] == ["192.168.100.101"]
    assert [f.ip_address for f in p2.fixed_ips] == ["192.168.111.4"]
    for port in (p1, p2):
        assert port.device_owner == DEVICE_OWNER_COMPUTE
        assert port.binding_host_id == "test-cmpt-02"
        assert port.mac_address.startswith("fa:16:3e:")
    assert seed.network(p1.network_id).name == "public_net"
    assert seed.network(p2.network_id).name == "share_net"


def test_router_and_dhcp(seed: Cloud) -> None:
    router = seed.router("c8aec0d9-3203-4bdb-9237-9818603f521f")
    assert router.host == "test-ctrl-01"
    (qr,) = (seed.port(pid) for pid in router.interface_port_ids)
    assert "qr-" + qr.short_id == "qr-466214fa-3d"
    assert qr.device_owner == DEVICE_OWNER_ROUTER_INTF
    assert [f.ip_address for f in qr.fixed_ips] == ["192.168.111.1"]
    assert router.external_gateway is not None
    qg = seed.port(router.external_gateway.port_id)
    assert "qg-" + qg.short_id == "qg-169d638e-0e"
    assert qg.device_owner == DEVICE_OWNER_ROUTER_GW and qg.binding_host_id == "test-ctrl-01"
    assert [f.ip_address for f in qg.fixed_ips] == ["192.168.100.103"]
    dhcp = [p for p in seed.ports if p.device_owner == DEVICE_OWNER_DHCP]
    assert [("tap" + p.short_id, p.binding_host_id) for p in dhcp] == [
        ("tap96835b35-be", "test-ctrl-01")]
    assert seed.network(dhcp[0].network_id).name == "share_net"
    assert [f.ip_address for f in dhcp[0].fixed_ips] == ["192.168.111.2"]


def test_floating_ip_and_outside(seed: Cloud) -> None:
    (fip,) = seed.floating_ips
    assert fip.floating_ip_address == "192.168.100.102"
    assert fip.fixed_ip_address == "192.168.111.4"
    assert fip.port_id == seed.vm("test-02").port_ids[0]
    assert fip.router_id == "c8aec0d9-3203-4bdb-9237-9818603f521f"
    gw, host = seed.outside
    assert (gw.name, gw.ip, gw.segment, gw.prefixlen) == ("upstream-gw", "192.168.100.1",
                                                          "external", 24)
    assert (host.ip, host.via) == ("203.0.113.10", "upstream-gw")


def test_default_security_group(seed: Cloud) -> None:
    (sg,) = seed.security_groups
    assert sg.name == "default"
    rules = {(r.direction, r.ethertype, r.remote_group_id) for r in sg.rules}
    assert rules == {("ingress", "IPv4", sg.id), ("ingress", "IPv6", sg.id),
                     ("egress", "IPv4", None), ("egress", "IPv6", None)}
    assert seed.port(seed.vm("test-01").port_ids[0]).security_groups == (sg.id,)


def test_deterministic(seed: Cloud) -> None:
    assert topology.load(SEED) == seed
    assert topology.loads(SEED.read_text()) == seed
