"""IPv6 subnets as Neutron 29 takes them (examples/dual-stack): ipv6_ra_mode/ipv6_address_mode
checked as ``db_base_plugin_v2._validate_ipv6_attributes`` checks them, and addresses on
auto-address subnets (SLAAC, DHCPv6-stateless) that are the EUI-64 of the port's MAC, for every
port but the router's interfaces (``ipam_pluggable_backend._get_auto_address_ips``), while a
DHCPv6-stateful subnet hands out pool addresses."""

from __future__ import annotations

import ipaddress

import pytest

from neutrace import addr, model, topology
from neutrace.errors import TopologyError
from tests.support.paths import DATA, EXAMPLES

PATH = EXAMPLES / "dual-stack" / "cloud.yaml"
TEXT = PATH.read_text()
CLOUD = topology.load(PATH)


def subnet(name: str) -> model.Subnet:
    return next(s for s in CLOUD.subnets if s.name == name)


def ips_on(port: model.Port, sub: str) -> list[str]:
    return [f.ip_address for f in port.fixed_ips if f.subnet_id == subnet(sub).id]


def vm_port(vm: str) -> model.Port:
    return CLOUD.port(CLOUD.vm(vm).port_ids[0])


def test_modes_are_kept() -> None:
    s = subnet("selfservice1-v6")
    assert (s.ipv6_ra_mode, s.ipv6_address_mode, s.is_auto_address) == ("slaac", "slaac", True)
    p = subnet("provider1-v6")
    assert (p.ipv6_ra_mode, p.ipv6_address_mode, p.is_auto_address) == (None, "slaac", True)
    assert not subnet("selfservice2-v6").is_auto_address
    assert subnet("selfservice3-v6").is_auto_address
    assert topology.from_dict(topology.dump(CLOUD)) == CLOUD


@pytest.mark.parametrize(("vm", "sub"), [("vm1", "selfservice1-v6"), ("vm2", "selfservice1-v6"),
                                         ("vm4", "selfservice3-v6"),
                                         ("provider-vm", "provider1-v6")])
def test_auto_address_subnets_give_the_eui64_address(vm: str, sub: str) -> None:
    port = vm_port(vm)
    assert ips_on(port, sub) == [addr.ipv6_eui64(subnet(sub).cidr, port.mac_address)]


def test_stateful_subnet_allocates_from_the_pool() -> None:
    (ip,) = ips_on(vm_port("vm3"), "selfservice2-v6")
    pool = subnet("selfservice2-v6").allocation_pools[0]
    assert ipaddress.ip_address(pool.start) <= ipaddress.ip_address(ip)
    assert ip != addr.ipv6_eui64(subnet("selfservice2-v6").cidr, vm_port("vm3").mac_address)


def test_router_interfaces_take_the_gateway_and_the_gateway_port_its_eui64() -> None:
    (router,) = CLOUD.routers
    interfaces = [CLOUD.port(p) for p in router.interface_port_ids]
    v6 = sorted(f.ip_address for p in interfaces for f in p.fixed_ips if ":" in f.ip_address)
    assert v6 == ["fd00:192:0:2::1", "fd00:198:51:100::1", "fd00:3::1"]
    assert router.external_gateway is not None
    gw = CLOUD.port(router.external_gateway.port_id)
    assert ips_on(gw, "provider1-v6") == ["fd00:203:0:113:f816:3eff:fe00:101"]
    assert len(ips_on(gw, "provider1-v4")) == 1


def test_dhcp_ports_get_eui64_on_auto_subnets() -> None:
    dhcp = next(p for p in CLOUD.ports_of(vm_port("vm1").network_id)
                if p.device_owner == model.DEVICE_OWNER_DHCP)
    assert ips_on(dhcp, "selfservice1-v6") == [
        addr.ipv6_eui64("fd00:192:0:2::/64", dhcp.mac_address)]


def edit(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, old
    return TEXT.replace(old, new)


SS1_V6 = '''      - {name: selfservice1-v6, cidr: "fd00:192:0:2::/64", ipv6_ra_mode: slaac,
         ipv6_address_mode: slaac, dns_nameservers: ["2001:4860:4860::8844"]}'''
ERRORS = {
    "ipv4": (edit("{name: selfservice2-v4, cidr: 198.51.100.0/24}",
                  "{name: selfservice2-v4, cidr: 198.51.100.0/24, ipv6_ra_mode: slaac}"),
             "networks[2].subnets[0].ipv6_ra_mode", "IPv6 modes are for IPv6 subnets"),
    "differ": (edit(SS1_V6, SS1_V6.replace("ipv6_address_mode: slaac",
                                           "ipv6_address_mode: dhcpv6-stateful")),
               "networks[1].subnets[1].ipv6_address_mode", "they must be the same value"),
    "not_64": (edit(SS1_V6, SS1_V6.replace("/64", "/80")), "networks[1].subnets[1].cidr",
               "requires the prefix to be /64"),
    "no_dhcp": (edit(SS1_V6, SS1_V6.replace("slaac,\n", "slaac, enable_dhcp: false,\n")),
                "networks[1].subnets[1].ipv6_ra_mode", "enable_dhcp is set to False"),
    "not_eui64": (edit("ports: [{network: selfservice1, security_groups: [ssh-ping]}]}\n  - {name: "
                       "vm2",
                       'ports: [{network: selfservice1, ip: [192.0.2.50, "fd00:192:0:2::50"], '
                       "security_groups: [ssh-ping]}]}\n  - {name: vm2"),
                  "vms[0].ports[0]", "cannot be directly assigned"),
    "mode_value": (edit("ipv6_ra_mode: dhcpv6-stateful", "ipv6_ra_mode: stateful"),
                   "networks[2].subnets[1].ipv6_ra_mode", ""),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_ipv6_mode_errors(case: str) -> None:
    text, where, words = ERRORS[case]
    with pytest.raises(TopologyError) as info:
        topology.loads(text, source="cloud.yaml")
    assert info.value.where == where, str(info.value)
    assert words in str(info.value) and info.value.fix


def test_dvr_snat_port_takes_a_pool_address_on_an_auto_subnet() -> None:
    """A DVR router's SNAT port (network:router_centralized_snat, in Neutron's
    ROUTER_INTERFACE_OWNERS_SNAT) gets a pool address on a SLAAC subnet, not its EUI-64."""
    cloud = topology.load(DATA / "clouds" / "dvr-ipv6.yaml")
    v6 = next(s for s in cloud.subnets if s.name == "selfservice1-v6")
    snat = [cloud.port(p) for r in cloud.routers for p in r.snat_port_ids]
    ips = [f.ip_address for p in snat for f in p.fixed_ips if f.subnet_id == v6.id]
    assert len(ips) == 1
    port = next(p for p in snat if any(f.subnet_id == v6.id for f in p.fixed_ips))
    assert ips[0] != addr.ipv6_eui64(v6.cidr, port.mac_address)
    assert ipaddress.ip_address(ips[0]) in ipaddress.ip_network(v6.cidr)
