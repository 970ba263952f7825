"""Property tests: any valid cloud the builder can describe loads into a consistent model."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings

from neutrace.builder import CloudBuilder
from neutrace.model import DEVICE_OWNER_COMPUTE, Cloud
from tests.support.strategies import clouds


def check(cloud: Cloud) -> None:
    subnets = {s.id: s for s in cloud.subnets}
    seen_ip: set[tuple[str, str]] = set()
    seen_mac: set[tuple[str, str]] = set()
    for p in cloud.ports:
        assert p.binding_host_id == "" or cloud.host(p.binding_host_id)
        for f in p.fixed_ips:
            sub = subnets[f.subnet_id]
            assert sub.network_id == p.network_id
            assert ipaddress.ip_address(f.ip_address) in ipaddress.ip_network(sub.cidr)
            assert (p.network_id, f.ip_address) not in seen_ip
            seen_ip.add((p.network_id, f.ip_address))
        assert (p.network_id, p.mac_address) not in seen_mac
        seen_mac.add((p.network_id, p.mac_address))
    assert len({p.id for p in cloud.ports}) == len(cloud.ports)
    assert len({p.id[:11] for p in cloud.ports}) == len(cloud.ports)
    for vm in cloud.vms:
        for pid in vm.port_ids:
            p = cloud.port(pid)
            assert (p.device_owner, p.device_id, p.binding_host_id) == (
                DEVICE_OWNER_COMPUTE, vm.name, vm.host)
            assert p.fixed_ips
    for net in cloud.networks:
        dhcp = any(s.enable_dhcp for s in cloud.subnets_of(net.id))
        owners = [p.device_owner for p in cloud.ports_of(net.id)]
        assert owners.count("network:dhcp") == (1 if dhcp else 0)


@settings(max_examples=60, deadline=None)
@given(clouds())
def test_valid_clouds_load_consistently(case: tuple[CloudBuilder, int]) -> None:
    builder, n_vms = case
    try:
        cloud = builder.build()
    except Exception as exc:  # only a full /29 may legitimately run out of addresses
        assert "no free address" in str(exc), exc
        return
    assert len(cloud.vms) == n_vms
    check(cloud)
    assert builder.build() == cloud  # deterministic
