"""neutron-dhcp-agent, re-enacted (layer 3): one ``qdhcp-<network id>`` namespace per DHCP port
bound to the host.

``DeviceManager.setup`` plugs ``tap<port id[:11]>`` (an OVS internal port on br-int, tagged by the
OVS agent with the network's local VLAN), gives it the port's fixed IPs with their subnets'
prefixes, sets the default route per IP version via the first DHCP-enabled subnet's gateway
(``_set_default_route``) and adds the mangle ``CHECKSUM --checksum-fill`` rules
(``fill_dhcp_udp_checksums``); the namespace gets ``ip_nonlocal_bind=1`` and no IPv6 RAs.
dnsmasq itself is not run: the walker answers nothing on its behalf.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.iptables import IptablesManager
from neutrace.agents.plan import VIF_DHCP, HostPlan
from neutrace.agents.vif import connected_route
from neutrace.dataplane import LOOPBACK, NS_DHCP, OVS_INTERNAL, Interface, Namespace, Route


def dhcp_iptables() -> IptablesManager:
    ipt = IptablesManager(c.DHCP_AGENT_BINARY, nat=False)
    ipt.ipv4["mangle"].add_rule(
        "POSTROUTING", f"-p udp -m udp --dport {c.DHCP_CLIENT_PORT} -j CHECKSUM --checksum-fill")
    ipt.ipv6["mangle"].add_rule(
        "POSTROUTING",
        f"-p udp -m udp --dport {c.DHCPV6_CLIENT_PORT} -j CHECKSUM --checksum-fill")
    return ipt


def dhcp_namespace(cloud: model.Cloud, port: model.Port) -> Namespace:
    dev = (c.TAP_DEVICE_PREFIX + port.id)[: c.LINUX_DEV_LEN]
    addresses: list[str] = []
    routes: list[Route] = []
    for f in port.fixed_ips:
        subnet = cloud.subnet(f.subnet_id)
        prefix = ipaddress.ip_network(subnet.cidr, strict=False).prefixlen
        addresses.append(f"{f.ip_address}/{prefix}")
        routes.append(connected_route(subnet.cidr, dev, f.ip_address))
    # _set_default_route: per IP version, the first DHCP-enabled subnet with a gateway
    default: list[Route] = []
    for version in (4, 6):
        for s in cloud.subnets_of(port.network_id):
            if s.ip_version != version or not s.enable_dhcp or not s.gateway_ip:
                continue
            prefixlen = ipaddress.ip_network(s.cidr, strict=False).prefixlen
            if version == 6 and (prefixlen == 0 or prefixlen > 126):
                continue
            default.append(Route("default", dev, gateway=s.gateway_ip))
            break
    ipt = dhcp_iptables()
    return Namespace(
        name=c.DHCP_NS_PREFIX + port.network_id, kind=NS_DHCP,
        interfaces=(Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",)),
                    Interface(dev, OVS_INTERNAL, mac=addr.norm_mac(port.mac_address),
                              mtu=cloud.network(port.network_id).mtu,
                              addresses=tuple(addresses))),
        routes=tuple(default + routes), iptables=ipt.save(4), ip6tables=ipt.save(6),
        sysctls=(("net.ipv4.ip_nonlocal_bind", "1"), ("net.ipv6.conf.default.accept_ra", "0")))


def program_dhcp(cloud: model.Cloud, plan: HostPlan) -> list[Namespace]:
    return [dhcp_namespace(cloud, v.port) for v in plan.vifs if v.kind == VIF_DHCP]
