"""A distributed router on its dvr_snat host: Neutron's
``neutron/agent/l3/dvr_edge_router.DvrEdgeRouter`` — the qrouter- namespace of any DVR host
(``DvrLocalRouter``) plus, on the router's SNAT host, the snat- namespace (``dvr_snat_ns``).

The snat- namespace (``_create_dvr_gateway``): created with the usual sysctls,
``ip_nonlocal_bind=1`` and ``nf_conntrack_tcp_loose=0``; the router's ``sg-`` ports (one per
interface, an address of its subnet) and the gateway ``qg-`` port with the default route via the
external subnet's gateway and the IPv6 RA sysctls; its own iptables manager: the address scope
chains, ``snat -j float-snat``, the SNAT rules of a legacy router's gateway
(``_add_snat_rules``), and the address scope marks of the sg- and qg- devices (qg- spared the
DROP when SNAT is on). No metadata rules: the proxy runs in qrouter-.
"""

from __future__ import annotations

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.iptables import IptablesManager
from neutrace.agents.l3.dvr_fip_ns import NAMESPACE_SYSCTLS, FipNamespace, device_name
from neutrace.agents.l3.dvr_local_router import DvrLocalRouter, _versions
from neutrace.agents.l3_agent import (
    add_address_scope_mark,
    add_snat_rules,
    empty_snat_chains,
    initialize_address_scope_iptables,
    port_interface,
)
from neutrace.dataplane import LOOPBACK, NS_SNAT, Interface, Namespace, Route


class DvrEdgeRouter(DvrLocalRouter):
    """A distributed router on a dvr_snat host (its SNAT lives here when it is the router's
    ``gw_port_host``)."""

    def __init__(self, cloud: model.Cloud, host: model.Host, router: model.Router,
                 fip_ns: FipNamespace | None) -> None:
        """The qrouter part, and the snat- namespace's pieces (empty until the gateway)."""
        super().__init__(cloud, host, router, fip_ns)
        self.snat_ns_name = c.SNAT_NS_PREFIX + router.id
        self.snat_iptables: IptablesManager | None = None
        self.snat_interfaces: list[Interface] = [
            Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",))]
        self.snat_routes: list[Route] = []
        self.snat_sysctls: list[tuple[str, str]] = []

    def _is_this_snat_host(self) -> bool:
        """The router's ``gw_port_host`` is this host."""
        return self.router.host == self.host.name

    def external_gateway_added(self) -> None:
        """The qrouter's part, then the snat- namespace on the SNAT host."""
        super().external_gateway_added()
        if self._is_this_snat_host():
            self._create_dvr_gateway()

    def _create_dvr_gateway(self) -> None:
        """sg- ports, the qg- gateway and the snat- iptables manager."""
        gw = self.router.external_gateway
        assert gw is not None
        self.snat_sysctls += [*NAMESPACE_SYSCTLS, ("net.ipv4.ip_nonlocal_bind", "1"),
                              ("net.netfilter.nf_conntrack_tcp_loose", "0")]
        for port in self.snat_ports():
            itf, connected = port_interface(self.cloud, port,
                                            device_name(c.SNAT_INT_DEV_PREFIX, port.id))
            self.snat_interfaces.append(itf)
            self.snat_routes += connected
        gw_port = self.cloud.port(gw.port_id)
        qg = device_name(c.EXTERNAL_DEV_PREFIX, gw.port_id)
        itf, connected = port_interface(self.cloud, gw_port, qg)
        self.snat_interfaces.append(itf)
        self.snat_routes += connected
        for f in gw_port.fixed_ips:
            subnet = self.cloud.subnet(f.subnet_id)
            if subnet.gateway_ip and subnet.ip_version == 4:
                self.snat_routes.insert(0, Route("default", qg, gateway=subnet.gateway_ip))
                break
        self.snat_sysctls += [(f"net.ipv6.conf.{qg}.accept_ra", "2"),
                              (f"net.ipv6.conf.{qg}.forwarding", "1")]
        self.snat_iptables = IptablesManager(c.L3_AGENT_BINARY)
        initialize_address_scope_iptables(self.snat_iptables)

    def _handle_router_snat_rules(self) -> None:
        """The qrouter's, then the SNAT of a legacy gateway in snat-."""
        super()._handle_router_snat_rules()
        gw = self.router.external_gateway
        if not self._is_this_snat_host() or gw is None or self.snat_iptables is None:
            return
        empty_snat_chains(self.snat_iptables)
        self.snat_iptables.ipv4["nat"].add_rule("snat", "-j $float-snat")
        add_snat_rules(self.snat_iptables, gw, self.cloud.port(gw.port_id),
                       device_name(c.EXTERNAL_DEV_PREFIX, gw.port_id))

    def process_address_scope(self) -> None:
        """The qrouter's, then the sg- and qg- devices of snat-."""
        super().process_address_scope()
        gw = self.router.external_gateway
        if not self._is_this_snat_host() or self.snat_iptables is None or gw is None:
            return
        devices: dict[int, list[str]] = {4: [], 6: []}
        for port in self.snat_ports():
            for version in _versions(port):
                devices[version].append(device_name(c.SNAT_INT_DEV_PREFIX, port.id))
        qg = device_name(c.EXTERNAL_DEV_PREFIX, gw.port_id)
        for version in _versions(self.cloud.port(gw.port_id)):
            devices[version].append(qg)
        add_address_scope_mark(self.snat_iptables, devices, qg if gw.enable_snat else None)

    def routes_updated(self) -> None:
        """Extra routes also in snat- (its connected subnets)."""
        super().routes_updated()
        if not self._is_this_snat_host() or self.snat_iptables is None:
            return
        for dest, nexthop in self.router.routes:
            dev = next((r.device for r in self.snat_routes if r.destination != "default"
                        and r.proto == "kernel" and addr.in_cidr(nexthop, r.destination)), None)
            route = Route(dest, dev, gateway=nexthop) if dev else None
            if route is not None and route not in self.snat_routes:
                self.snat_routes.append(route)

    def snat_namespace(self) -> Namespace | None:
        """The snat- namespace, on the SNAT host."""
        if self.snat_iptables is None:
            return None
        return Namespace(name=self.snat_ns_name, kind=NS_SNAT,
                         interfaces=tuple(self.snat_interfaces), routes=tuple(self.snat_routes),
                         iptables=self.snat_iptables.save(4),
                         ip6tables=self.snat_iptables.save(6), sysctls=tuple(self.snat_sysctls))

