"""The fip- namespace of a DVR host: Neutron's ``neutron/agent/l3/dvr_fip_ns.FipNamespace``.

One per (host, external network) with a distributed router with a gateway on it. It holds the
floating IP agent gateway port ``fg-<port id>`` (its addresses, ``proxy_arp=1`` and
``proxy_delay=1``: it answers ARP for the host's floating IPs, which live on no interface) and,
per router, the ``fpr-<router id>`` end of the ``rfp-``/``fpr-`` veth pair to the qrouter
namespace, with the link-local /31 the ``LinkLocalAllocator`` pops from ``169.254.64.0/18``
(a set of ``netaddr.IPNetwork``: its pop order is CPython's, reproduced here with the same set).
Per router, ``ip rule iif fpr-… lookup <n> priority <n>`` with ``n`` the /31's address as an
integer (``_get_snat_idx``) and ``default via <external gateway> dev fg-…`` in table ``n``; per
floating IP bound to the host, ``<fip>/32 via <rfp- address> dev fpr-…``. Its iptables:
``raw PREROUTING -j CT --notrack`` (``create``).

``FipRulePriorityAllocator`` draws the qrouter's per-floating-IP rule priorities from 32768..72767
out of a set of objects hashed by their string (random per process in Neutron); neutrace takes
the lowest free one, in floating IP order.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import netaddr

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.iptables import IptablesManager
from neutrace.agents.l3_agent import prefixed_ips
from neutrace.agents.vif import connected_route
from neutrace.dataplane import (
    LOOPBACK,
    NS_FIP,
    OVS_INTERNAL,
    VETH,
    Interface,
    Namespace,
    Neighbour,
    Route,
    Rule,
)

NAMESPACE_SYSCTLS = (("net.netfilter.nf_conntrack_tcp_be_liberal", "1"),
                     ("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.arp_ignore", "1"),
                     ("net.ipv4.conf.all.arp_announce", "2"),
                     ("net.ipv6.conf.all.forwarding", "1"))


def device_name(prefix: str, ident: str) -> str:
    """``(prefix + id)[:DEV_NAME_LEN]`` (14 characters)."""
    return (prefix + ident)[: c.LINUX_DEV_LEN]


def get_snat_idx(cidr: str) -> int:
    """``DvrLocalRouter._get_snat_idx`` for IPv4: the integer value of the address (not of the
    network) of ``cidr`` (``netaddr.IPNetwork(...).value``); a route table and rule priority."""
    return int(ipaddress.ip_interface(cidr).ip)


def _network(cidr: str) -> str:
    """The network of an ``ip/prefix``."""
    return str(ipaddress.ip_interface(cidr).network)


def veth_mac(host: str, name: str) -> str:
    """The MAC neutrace gives a veth end (the kernel's is random)."""
    return addr.stable_mac(f"{host}/{name}", "02:00:00")


class LinkLocalAllocator:
    """``LinkLocalAllocator``: /31s of ``DVR_FIP_LL_CIDR`` popped from a set, as Neutron does."""

    def __init__(self) -> None:
        """A fresh pool (no state file from an earlier run)."""
        subnet = netaddr.IPNetwork(c.DVR_FIP_LL_CIDR)
        self.pool = {netaddr.IPNetwork(str(s)) for s in subnet.subnet(31)}
        self.allocations: dict[str, tuple[str, str]] = {}

    def allocate(self, key: str) -> tuple[str, str]:
        """(rtr_2_fip, fip_2_rtr) as ``ip/31`` for ``key`` (a router id)."""
        if key not in self.allocations:
            pair = self.pool.pop()
            self.allocations[key] = (f"{pair.network}/{pair.prefixlen}",
                                     f"{pair[-1]}/{pair.prefixlen}")
        return self.allocations[key]


@dataclass
class FipRulePriorityAllocator:
    """Rule priorities per floating IP (the lowest free of FIP_PR_START..FIP_PR_END)."""

    allocations: dict[str, int] = field(default_factory=dict)

    def allocate(self, floating_ip: str) -> int:
        """The floating IP's priority."""
        if floating_ip not in self.allocations:
            used = set(self.allocations.values())
            self.allocations[floating_ip] = next(
                p for p in range(c.FIP_PR_START, c.FIP_PR_END) if p not in used)
        return self.allocations[floating_ip]


class FipNamespace:
    """The fip- namespace of one external network on one host, as routers connect to it."""

    def __init__(self, cloud: model.Cloud, host: model.Host, ext_net_id: str) -> None:
        """Nothing created yet (``create_or_update_gateway_port`` creates it)."""
        self.cloud = cloud
        self.host = host
        self.name = c.FIP_NS_PREFIX + ext_net_id
        self.agent_gateway_port: model.Port | None = None
        self.local_subnets = LinkLocalAllocator()
        self.rule_priorities = FipRulePriorityAllocator()
        self.interfaces: list[Interface] = [Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",))]
        self.routes: list[Route] = []
        self.rules: list[Rule] = []
        self.neighbours: list[Neighbour] = []
        self.sysctls: list[tuple[str, str]] = []
        self.iptables = IptablesManager(c.L3_AGENT_BINARY)

    def get_ext_device_name(self, port_id: str) -> str:
        """``fg-`` + the port id."""
        return device_name(c.FIP_EXT_DEV_PREFIX, port_id)

    def get_int_device_name(self, router_id: str) -> str:
        """``fpr-`` + the router id."""
        return device_name(c.FIP_2_ROUTER_DEV_PREFIX, router_id)

    def get_rtr_ext_device_name(self, router_id: str) -> str:
        """``rfp-`` + the router id (in the qrouter namespace)."""
        return device_name(c.ROUTER_2_FIP_DEV_PREFIX, router_id)

    def create(self) -> None:
        """The namespace: the usual sysctls, non-local bind, conntrack off (raw NOTRACK)."""
        self.sysctls += [*NAMESPACE_SYSCTLS, ("net.ipv4.ip_nonlocal_bind", "1")]
        self.iptables.ipv4["raw"].add_rule("PREROUTING", "-j CT --notrack")

    def create_or_update_gateway_port(self, port: model.Port) -> None:
        """The first router: ``_create_gateway_port`` (fg- with its addresses, proxy ARP)."""
        if self.agent_gateway_port is not None:
            return
        self.create()
        fg = self.get_ext_device_name(port.id)
        net = self.cloud.network(port.network_id)
        ips = prefixed_ips(self.cloud, port)
        self.interfaces.append(Interface(
            fg, OVS_INTERNAL, mac=addr.norm_mac(port.mac_address), mtu=net.mtu,
            addresses=tuple(cidr for _ip, cidr, _s in ips)))
        self.routes += [connected_route(s.cidr, fg, ip) for ip, _cidr, s in ips]
        self.agent_gateway_port = port
        self.sysctls += [(f"net.ipv4.neigh.{fg}.proxy_delay", "1"),
                         (f"net.ipv4.conf.{fg}.proxy_arp", "1")]

    def _update_gateway_route(self, tbl_index: int) -> None:
        """``default via <each subnet's gateway> dev fg-…`` in table ``tbl_index`` (an on-link
        route first for a gateway outside its subnet)."""
        port = self.agent_gateway_port
        assert port is not None
        fg = self.get_ext_device_name(port.id)
        for f in port.fixed_ips:
            subnet = self.cloud.subnet(f.subnet_id)
            if not subnet.gateway_ip:
                continue
            if not addr.in_cidr(subnet.gateway_ip, subnet.cidr):
                self.routes.append(Route(subnet.gateway_ip, fg, scope="link"))
            self.routes.append(Route("default", fg, gateway=subnet.gateway_ip,
                                     table=str(tbl_index)))

    def create_rtr_2_fip_link(self, router_id: str, mtu: int) -> tuple[Interface, Neighbour]:
        """The veth pair to a router: this end (fpr-) with its address, route table and rule;
        the router's end (rfp-) and its neighbour entry for the caller to put in qrouter."""
        rtr_2_fip, fip_2_rtr = self.local_subnets.allocate(router_id)
        rfp = self.get_rtr_ext_device_name(router_id)
        fpr = self.get_int_device_name(router_id)
        qrouter = c.ROUTER_NS_PREFIX + router_id
        rfp_mac, fpr_mac = veth_mac(self.host.name, rfp), veth_mac(self.host.name, fpr)
        self.interfaces.append(Interface(fpr, VETH, mac=fpr_mac, mtu=mtu, addresses=(fip_2_rtr,),
                                         peer=rfp, peer_namespace=qrouter))
        self.routes.append(connected_route(_network(fip_2_rtr), fpr, fip_2_rtr.split("/")[0]))
        self.neighbours.append(Neighbour(rtr_2_fip.split("/")[0], rfp_mac, fpr))
        tbl_index = get_snat_idx(fip_2_rtr)
        self._update_gateway_route(tbl_index)
        self.rules.append(Rule(priority=tbl_index, table=str(tbl_index), iif=fpr))
        rfp_itf = Interface(rfp, VETH, mac=rfp_mac, mtu=mtu, addresses=(rtr_2_fip,), peer=fpr,
                            peer_namespace=self.name)
        return rfp_itf, Neighbour(fip_2_rtr.split("/")[0], fpr_mac, rfp)

    def floating_ip_added_dist(self, router_id: str, floating_ip: str) -> None:
        """``<fip>/32 via <rfp- address> dev fpr-…``."""
        rtr_2_fip, _fip_2_rtr = self.local_subnets.allocate(router_id)
        self.routes.append(Route(f"{floating_ip}/32", self.get_int_device_name(router_id),
                                 gateway=rtr_2_fip.split("/")[0]))

    def add_next_hop_route(self, router_id: str, destination: str, nexthop: str) -> None:
        """``_update_fip_route_table_with_next_hop_routes``: an extra route whose nexthop is on
        the fg- port's subnets, in the router's table (``proto boot``)."""
        port = self.agent_gateway_port
        if port is None or not any(
                addr.in_cidr(nexthop, self.cloud.subnet(f.subnet_id).cidr)
                for f in port.fixed_ips):
            return
        _rtr_2_fip, fip_2_rtr = self.local_subnets.allocate(router_id)
        route = Route(destination, self.get_ext_device_name(port.id), gateway=nexthop,
                      table=str(get_snat_idx(fip_2_rtr)), proto="boot")
        if route not in self.routes:
            self.routes.append(route)

    def namespace(self) -> Namespace:
        """The namespace as the routers left it."""
        return Namespace(name=self.name, kind=NS_FIP, interfaces=tuple(self.interfaces),
                         routes=tuple(self.routes), rules=tuple(self.rules),
                         neighbours=tuple(self.neighbours), iptables=self.iptables.save(4),
                         ip6tables=self.iptables.save(6), sysctls=tuple(self.sysctls))
