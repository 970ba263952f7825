"""A distributed router's qrouter- namespace on one host: Neutron's
``neutron/agent/l3/dvr_local_router.DvrLocalRouter``, ``process()`` step by step.

- ``internal_network_added`` per interface: ``qr-<port id>`` with the same MAC and addresses on
  every host; ``_set_subnet_arp_info``: a PERMANENT neighbour for every bound port of the subnet
  (VMs on any host, DHCP ports, the SNAT port; not router interfaces), and for its host-route
  allowed address pairs; with a gateway (and no matching address scope, which is every port
  here), ``_snat_redirect_add``: ``default via <sg- address> dev qr-…`` in table ``n`` and
  ``ip rule from <qr- address>/<prefix> lookup n priority n`` (``n`` = ``_get_snat_idx``: the
  address as an integer; the rule is kept as its network, ``from 192.0.2.0/24``, as
  ``syntax.iproute`` reads it back), ``send_redirects=0`` on the qr- device.
- ``process_external`` with a gateway: the host's fip- namespace gets the fg- port
  (``create_dvr_external_gateway_on_agent``) and the router its ``rfp-``/``fpr-`` pair
  (``connect_rtr_2_fip``): rfp- ``default via <fpr- address>`` in table 16 and an IPv6 default
  via fpr-'s link-local address; ``external_gateway_added``: ``all.send_redirects=0``.
- ``_handle_router_snat_rules``: nat POSTROUTING and snat emptied; with floating IPs on this
  host, ``snat -j float-snat`` and ``! -o rfp-… -m conntrack ! --ctstate DNAT -j ACCEPT``.
- floating IPs bound to this host: ``-d <fip>/32 -i rfp-… -j DNAT``, ``float-snat`` SNAT,
  ``ip rule from <fixed> lookup 16 priority <FipRulePriorityAllocator>``, and in the fip-
  namespace ``<fip>/32 via <rfp- address> dev fpr-…``.
- address scopes: every qr- device and rfp- in the default scope (rfp- is the router's external
  device on this host, and it is not exempt from the filter DROP: the exemption is for qg-).
- extra routes: in qrouter's main table, and in the fip- namespace's router table when the
  nexthop is on the fg- port's subnets.
"""

from __future__ import annotations

import binascii
import ipaddress
from typing import TypeVar

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.iptables import IptablesManager
from neutrace.agents.l3.dvr_fip_ns import NAMESPACE_SYSCTLS, FipNamespace, device_name
from neutrace.agents.l3_agent import (
    add_address_scope_mark,
    initialize_address_scope_iptables,
    initialize_metadata_iptables,
    internal_device_name,
    metadata_after_router_added,
    port_interface,
)
from neutrace.dataplane import (
    LOOPBACK,
    NS_ROUTER,
    Interface,
    Namespace,
    Neighbour,
    Route,
    Rule,
)

MASK_30 = 0x3FFFFFFF
_T = TypeVar("_T")


def get_snat_idx(ip_cidr: str) -> int:
    """``_get_snat_idx``: IPv4, the address as an integer; IPv6, crc32 of the text folded to 30
    bits (lifted above 32768)."""
    net = ipaddress.ip_interface(ip_cidr)
    if net.version == 6:
        idx = binascii.crc32(ip_cidr.encode()) & 0xFFFFFFFF
        idx = (idx >> 30) ^ (idx & MASK_30)
        return idx + MASK_30 if idx < 32768 else idx
    return int(net.ip)


def _network(cidr: str) -> str:
    """A rule's ``from`` as the pivot (and ``syntax.iproute``) keeps it: the network. Neutron
    asks for ``from 192.0.2.1/24`` and the kernel shows it so; it matches as 192.0.2.0/24."""
    return str(ipaddress.ip_network(cidr, strict=False))


def _versions(port: model.Port) -> list[int]:
    """The IP versions of a port's fixed IPs, in order."""
    return list(dict.fromkeys(ipaddress.ip_address(f.ip_address).version
                              for f in port.fixed_ips))


class DvrLocalRouter:
    """One distributed router on one DVR host."""

    def __init__(self, cloud: model.Cloud, host: model.Host, router: model.Router,
                 fip_ns: FipNamespace | None) -> None:
        """``RouterInfo.__init__``: the namespace's iptables skeleton."""
        self.cloud = cloud
        self.host = host
        self.router = router
        self.router_id = router.id
        self.fip_ns = fip_ns
        self.ns_name = c.ROUTER_NS_PREFIX + router.id
        self.iptables = IptablesManager(c.L3_AGENT_BINARY)
        initialize_address_scope_iptables(self.iptables)
        initialize_metadata_iptables(self.iptables)
        self.interfaces: list[Interface] = [Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",))]
        self.routes: list[Route] = []
        self.rules: list[Rule] = []
        self.neighbours: list[Neighbour] = []
        self.sysctls: list[tuple[str, str]] = list(NAMESPACE_SYSCTLS)
        self.rfp: str | None = None

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _add(items: list[_T], item: _T) -> None:
        """Idempotent: Neutron adds most of these twice (ip_lib ignores an existing entry)."""
        if item not in items:
            items.append(item)

    def snat_ports(self) -> list[model.Port]:
        """``get_snat_interfaces``: the router's sg- ports."""
        return [self.cloud.port(pid) for pid in self.router.snat_port_ids]

    def get_snat_port_for_internal_port(self, port: model.Port) -> model.Port | None:
        """The sg- port on the same subnet."""
        subnets = {f.subnet_id for f in port.fixed_ips}
        return next((p for p in self.snat_ports()
                     if any(f.subnet_id in subnets for f in p.fixed_ips)), None)

    def floating_ips(self) -> list[model.FloatingIp]:
        """The router's floating IPs bound to this host (what the server sends this agent)."""
        return [f for f in self.cloud.floating_ips
                if f.router_id == self.router_id and f.port_id and f.host == self.host.name]

    # -- internal ports ------------------------------------------------------------------------
    def internal_network_added(self, port: model.Port) -> None:
        """The qr- device, the ARP entries of its subnet and the SNAT redirect."""
        dev = internal_device_name(port.id)
        itf, connected = port_interface(self.cloud, port, dev)
        self.interfaces.append(itf)
        self.routes += connected
        for f in port.fixed_ips:
            self._set_subnet_arp_info(self.cloud.subnet(f.subnet_id), dev)
        self._snat_redirect_add_from_port(port)

    def _set_subnet_arp_info(self, subnet: model.Subnet, dev: str) -> None:
        """A PERMANENT neighbour per bound port address on the subnet (router interfaces
        aside), its host allowed address pairs of the same family, then the SNAT ports'."""
        version = ipaddress.ip_network(subnet.cidr).version
        for p in self.cloud.ports:
            if not p.binding_host_id or p.device_owner in model.ROUTER_INTERFACE_OWNERS:
                continue
            if not any(f.subnet_id == subnet.id for f in p.fixed_ips):
                continue
            for f in p.fixed_ips:
                if f.subnet_id == subnet.id:
                    self._add(self.neighbours,
                              Neighbour(f.ip_address, addr.norm_mac(p.mac_address), dev))
            for pair in p.allowed_address_pairs:
                net = ipaddress.ip_network(pair.ip_address, strict=False)
                if net.prefixlen == net.max_prefixlen and net.version == version:
                    self._add(self.neighbours, Neighbour(str(net.network_address),
                                        addr.norm_mac(pair.mac_address), dev))
        for p in self.snat_ports():
            for f in p.fixed_ips:
                if f.subnet_id == subnet.id:
                    self._add(self.neighbours,
                              Neighbour(f.ip_address, addr.norm_mac(p.mac_address), dev))

    def _snat_redirect_add_from_port(self, port: model.Port) -> None:
        """With a gateway: traffic from the subnet goes to the SNAT port unless routed
        otherwise (its own table and rule)."""
        if self.router.external_gateway is None:
            return
        sn_port = self.get_snat_port_for_internal_port(port)
        if sn_port is None:
            return
        self._snat_redirect_add(sn_port, port, internal_device_name(port.id))

    def _snat_redirect_add(self, gateway: model.Port, sn_port: model.Port, sn_int: str) -> None:
        """``_snat_redirect_modify(is_add=True)``."""
        for port_ip in sn_port.fixed_ips:
            version = ipaddress.ip_address(port_ip.ip_address).version
            prefix = ipaddress.ip_network(self.cloud.subnet(port_ip.subnet_id).cidr).prefixlen
            for gw_ip in gateway.fixed_ips:
                if ipaddress.ip_address(gw_ip.ip_address).version != version:
                    continue
                cidr = f"{port_ip.ip_address}/{prefix}"
                idx = get_snat_idx(cidr)
                self._add(self.routes, Route("default", sn_int, gateway=gw_ip.ip_address,
                                             table=str(idx)))
                self._add(self.rules, Rule(priority=idx, table=str(idx),
                                           source=_network(cidr)))
                self._add(self.sysctls, (f"net.ipv4.conf.{sn_int}.send_redirects", "0"))

    # -- external ------------------------------------------------------------------------------
    def fip_agent_gateway_port(self) -> model.Port | None:
        """This host's fg- port on the router's external network."""
        gw = self.router.external_gateway
        if gw is None:
            return None
        return next((p for p in self.cloud.ports_on(self.host.name)
                     if p.device_owner == model.DEVICE_OWNER_AGENT_GW
                     and p.network_id == gw.network_id), None)

    def connect_rtr_2_fip(self) -> None:
        """The fg- port (first router), the veth pair, rfp-'s routes."""
        assert self.fip_ns is not None
        gw = self.router.external_gateway
        assert gw is not None
        fg = self.fip_agent_gateway_port()
        if fg is None:
            return
        self.fip_ns.create_or_update_gateway_port(fg)
        mtu = self.cloud.network(gw.network_id).mtu
        rfp_itf, neighbour = self.fip_ns.create_rtr_2_fip_link(self.router_id, mtu)
        self.rfp = rfp_itf.name
        self.interfaces.append(rfp_itf)
        rtr_2_fip = rfp_itf.addresses[0]
        net = ipaddress.ip_interface(rtr_2_fip).network
        self.routes.append(Route(str(net), rfp_itf.name, scope="link", proto="kernel",
                                 source=rtr_2_fip.split("/")[0]))
        self.neighbours.append(neighbour)
        self.routes.append(Route("default", rfp_itf.name, gateway=neighbour.ip,
                                 table=str(c.FIP_RT_TBL)))
        fpr_mac = neighbour.mac
        self.routes.append(Route("default", rfp_itf.name,
                                 gateway=addr.ipv6_lla(fpr_mac).split("/")[0]))

    def external_gateway_added(self) -> None:
        """``all.send_redirects=0``, the SNAT redirects (again), the SNAT ports' ARP."""
        self._add(self.sysctls, ("net.ipv4.conf.all.send_redirects", "0"))
        for pid in self.router.interface_port_ids:
            port = self.cloud.port(pid)
            sn_port = self.get_snat_port_for_internal_port(port)
            if sn_port is not None:
                self._snat_redirect_add(sn_port, port, internal_device_name(pid))

    def _handle_router_snat_rules(self) -> None:
        """The qrouter's NAT for the local floating IPs' traffic."""
        nat = self.iptables.ipv4["nat"]
        nat.empty_chain("POSTROUTING")
        nat.empty_chain("snat")
        if self.rfp is None or not self.floating_ips():
            return
        nat.add_rule("snat", "-j $float-snat")
        nat.add_rule("POSTROUTING", f"! -o {self.rfp} -m conntrack ! --ctstate DNAT -j ACCEPT")

    def process_floating_ip_nat_rules(self) -> None:
        """``floating_forward_rules`` of each local floating IP."""
        if self.rfp is None:
            return
        nat = self.iptables.ipv4["nat"]
        nat.clear_rules_by_tag("floating_ip")
        for fip in self.floating_ips():
            nat.add_rule("PREROUTING", f"-d {fip.floating_ip_address}/32 -i {self.rfp} -j DNAT "
                         f"--to-destination {fip.fixed_ip_address}", tag="floating_ip")
            rule = f"-s {fip.fixed_ip_address}/32 -j SNAT --to-source {fip.floating_ip_address}"
            if c.USE_RANDOM_FULLY:
                rule += " --random-fully"
            nat.add_rule("float-snat", rule, tag="floating_ip")

    def process_floating_ip_addresses(self) -> None:
        """``floating_ip_added_dist``: the rule to table 16 and the fip- namespace's route."""
        if self.rfp is None or self.fip_ns is None:
            return
        for fip in self.floating_ips():
            prio = self.fip_ns.rule_priorities.allocate(fip.floating_ip_address)
            self.rules.append(Rule(priority=prio, table=str(c.FIP_RT_TBL),
                                   source=_network(fip.fixed_ip_address)))
            self.fip_ns.floating_ip_added_dist(self.router_id, fip.floating_ip_address)

    def process_external(self) -> None:
        """The fip- connection, the gateway's redirects, NAT and floating IPs."""
        if self.router.external_gateway is not None and self.fip_ns is not None:
            self.connect_rtr_2_fip()
            self.routes_updated()
            self.external_gateway_added()
        self._handle_router_snat_rules()
        if self.router.external_gateway is None:
            return
        self.process_floating_ip_nat_rules()
        self.process_floating_ip_addresses()

    # -- address scopes and routes ---------------------------------------------------------------
    def address_scope_devices(self) -> dict[int, list[str]]:
        """The qr- devices and, as the external device, rfp-."""
        devices: dict[int, list[str]] = {4: [], 6: []}
        for pid in self.router.interface_port_ids:
            for version in _versions(self.cloud.port(pid)):
                devices[version].append(internal_device_name(pid))
        gw = self.router.external_gateway
        if gw is not None and self.rfp is not None:
            for version in _versions(self.cloud.port(gw.port_id)):
                devices[version].append(self.rfp)
        return devices

    def process_address_scope(self) -> None:
        """``process_ports_address_scope_iptables``; only qg- would be spared the DROP."""
        gw = self.router.external_gateway
        dont_block = (device_name(c.EXTERNAL_DEV_PREFIX, gw.port_id)
                      if gw is not None and gw.enable_snat else None)
        add_address_scope_mark(self.iptables, self.address_scope_devices(), dont_block)

    def routes_updated(self) -> None:
        """Extra routes: qrouter's main table; the fip- router table for nexthops on fg-."""
        for dest, nexthop in self.router.routes:
            dev = next((r.device for r in self.routes if r.table == "main"
                        and r.destination != "default" and addr.in_cidr(nexthop, r.destination)),
                       None)
            if dev is not None:
                self._add(self.routes, Route(dest, dev, gateway=nexthop))
            if self.fip_ns is not None and self.fip_ns.agent_gateway_port is not None:
                self.fip_ns.add_next_hop_route(self.router_id, dest, nexthop)

    # -- all -----------------------------------------------------------------------------------
    def process(self) -> None:
        """``process()``: internal ports, external, address scopes, extra routes."""
        for pid in self.router.interface_port_ids:
            self.internal_network_added(self.cloud.port(pid))
        self.process_external()
        self.process_address_scope()
        self.routes_updated()

    def after_router_added(self) -> None:
        """The metadata driver's rules (ROUTER AFTER_CREATE)."""
        metadata_after_router_added(self.iptables)

    def namespace(self) -> Namespace:
        """The qrouter- namespace."""
        return Namespace(name=self.ns_name, kind=NS_ROUTER, interfaces=tuple(self.interfaces),
                         routes=tuple(self.routes), rules=tuple(self.rules),
                         neighbours=tuple(self.neighbours), iptables=self.iptables.save(4),
                         ip6tables=self.iptables.save(6), sysctls=tuple(self.sysctls))
