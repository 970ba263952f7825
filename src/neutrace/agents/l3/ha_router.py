"""neutron-l3-agent's HA routers (``neutron.agent.l3.ha_router.HaRouter``), on each L3 agent an
HA router is scheduled to, as ``initialize`` + ``process`` leave them and keepalived then leaves
them on the master.

``HaRouter`` is a ``RouterInfo``: the iptables of its qrouter- namespace are a legacy router's
(``agents.l3_agent.router_iptables``), the same on every node. What differs:

- ``HaRouterNamespace.create``: IPv6 forwarding off, ``ip_nonlocal_bind=1``,
  ``net.ipv6.conf.all.addr_gen_mode=1`` (keepalived, not the kernel, owns link-local addresses);
- ``ha_network_added`` (in ``initialize``): the ``ha-`` device on br-int, the node's own HA
  port address (169.254.192.x/18);
- ``internal_network_added`` / ``external_gateway_added``: qr-/qg- are plugged (MAC, MTU) but
  get no address from the agent: their addresses, the floating IPs, the IPv6 link-local
  addresses, the default route and extra routes become keepalived VIPs and virtual routes
  (``agents.l3.keepalived``); ``accept_ra`` 0 on qr-/qg- and, on qg-, forwarding 0;
- ``keepalived.conf`` under ``ha_confs_path/<router id>/`` (keepalived itself is not run);
- the master's state change (``ha.AgentMixin.enqueue_state_change('primary')`` ->
  ``_configure_ipv6_params``): IPv6 forwarding on (all, qg-), qg- accepting RAs when the
  gateway has no IPv6 gateway, radvd started (its radvd.conf, with an IPv6 interface
  subnet); keepalived adds the VIPs (the primary VIP on ha-) and the virtual routes. A backup
  keeps its interfaces up without addresses and runs no radvd.

The IPv6 link-local VIPs keepalived adds on the master's qr-/qg- (``fe80::/64 ... scope link``)
are in keepalived.conf but, as the kernel's own link-local addresses of every other device,
not in the interfaces' addresses.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.l3 import ra
from neutrace.agents.l3.keepalived import (
    KeepalivedInstance,
    VipAddress,
    VirtualRoute,
    config_path,
    config_text,
    master_addresses,
    master_routes,
)
from neutrace.agents.l3_agent import (
    external_device_name,
    internal_device_name,
    prefixed_ips,
    router_floating_ips,
    router_iptables,
)
from neutrace.agents.vif import connected_route
from neutrace.dataplane import (
    LOOPBACK,
    NS_ROUTER,
    OVS_INTERNAL,
    ConfigFile,
    Interface,
    Namespace,
    Route,
)

ACCEPT_RA_DISABLED = "0"
ACCEPT_RA_WITH_FORWARDING = "2"


def ha_device_name(port_id: str) -> str:
    """``get_ha_device_name``: ``ha-`` + the port id, 14 characters."""
    return (c.HA_DEV_PREFIX + port_id)[: c.LINUX_DEV_LEN]


def _lladdr(port: model.Port) -> str:
    """``ip_lib.get_ipv6_lladdr``: the EUI-64 link-local address of the port's MAC, /64."""
    return f"{addr.ipv6_lla(port.mac_address)}/64"


def keepalived_instance(cloud: model.Cloud, router: model.Router,
                        ha_port: model.Port) -> KeepalivedInstance:
    """The router's ``vrrp_instance`` after ``process()``: the VIPs in the order the agent adds
    them (each qr-: its link-local address, then its fixed IPs; qg-: its fixed IPs, then its
    link-local address; the floating IPs), the gateway routes (an on-link route to a gateway
    outside its subnet, a default route per gateway IP) and the extra routes."""
    ha_dev = ha_device_name(ha_port.id)
    ha_cidrs = tuple(cloud.subnet(f.subnet_id).cidr for f in ha_port.fixed_ips)
    vips: list[VipAddress] = []

    def add(ip_cidr: str, dev: str, scope: str | None = None) -> None:
        vip = VipAddress(ip_cidr, dev, scope, track=dev == ha_dev)
        if all(v.ip_cidr != vip.ip_cidr for v in vips):
            vips.append(vip)

    for pid in router.interface_port_ids:
        port = cloud.port(pid)
        dev = internal_device_name(pid)
        add(_lladdr(port), dev, "link")
        for _, cidr, _ in prefixed_ips(cloud, port):
            add(cidr, dev)
    gateway_routes: list[VirtualRoute] = []
    gw = router.external_gateway
    if gw is not None:
        port = cloud.port(gw.port_id)
        qg = external_device_name(gw.port_id)
        ips = prefixed_ips(cloud, port)
        for _, cidr, _ in ips:
            add(cidr, qg)
        subnets = list(dict.fromkeys(s for _, _, s in ips))
        for s in subnets:
            if s.gateway_ip and not addr.in_cidr(s.gateway_ip, s.cidr):
                gateway_routes.append(VirtualRoute(s.gateway_ip, None, qg, "link"))
        for s in subnets:
            if s.gateway_ip:
                any_ip = "0.0.0.0/0" if s.ip_version == 4 else "::/0"
                gateway_routes.append(VirtualRoute(any_ip, s.gateway_ip, qg))
        add(_lladdr(port), qg, "link")
        for fip in router_floating_ips(cloud, router):
            add(f"{fip.floating_ip_address}/32", qg)
    extra = tuple(VirtualRoute(d, n) for d, n in router.routes)
    return KeepalivedInstance(interface=ha_dev, vrouter_id=router.ha_vr_id or 0,
                              ha_cidrs=ha_cidrs, vips=tuple(vips),
                              gateway_routes=tuple(gateway_routes), extra_routes=extra)


def _link_local(cidr: str) -> bool:
    return ipaddress.ip_interface(cidr).ip.is_link_local and \
        ipaddress.ip_interface(cidr).version == 6


def _sysctls(cloud: model.Cloud, router: model.Router, master: bool) -> tuple[tuple[str, str],
                                                                               ...]:
    """The namespace's sysctls as the agent leaves them (the last value of each key, in the
    order they were first set)."""
    values: dict[str, str] = {}
    values["net.netfilter.nf_conntrack_tcp_be_liberal"] = "1"
    values["net.ipv4.ip_forward"] = "1"
    values["net.ipv4.conf.all.arp_ignore"] = "1"
    values["net.ipv4.conf.all.arp_announce"] = "2"
    values["net.ipv6.conf.all.forwarding"] = "0"
    values["net.ipv4.ip_nonlocal_bind"] = "1"
    values["net.ipv6.conf.all.addr_gen_mode"] = "1"
    for pid in router.interface_port_ids:
        values[f"net.ipv6.conf.{internal_device_name(pid)}.accept_ra"] = ACCEPT_RA_DISABLED
    gw = router.external_gateway
    if gw is not None:
        qg = external_device_name(gw.port_id)
        values[f"net.ipv6.conf.{qg}.accept_ra"] = ACCEPT_RA_DISABLED
        values[f"net.ipv6.conf.{qg}.forwarding"] = "0"
    if master:
        values["net.ipv6.conf.all.forwarding"] = "1"
        if gw is not None:
            qg = external_device_name(gw.port_id)
            v6_gateway = any(s.gateway_ip and s.ip_version == 6
                             for _, _, s in prefixed_ips(cloud, cloud.port(gw.port_id)))
            values[f"net.ipv6.conf.{qg}.accept_ra"] = (
                ACCEPT_RA_DISABLED if v6_gateway else ACCEPT_RA_WITH_FORWARDING)
            values[f"net.ipv6.conf.{qg}.forwarding"] = "1"
    return tuple(values.items())


def ha_router_state(cloud: model.Cloud, host: model.Host,
                    router: model.Router) -> tuple[Namespace, ConfigFile]:
    """The qrouter- namespace of ``router`` on ``host`` (its master or a backup) and the
    keepalived.conf the agent wrote for it."""
    ha_id = router.ha_port_on(host.name)
    assert ha_id is not None, f"router {router.name} is not scheduled to {host.name}"
    ha_port = cloud.port(ha_id)
    ha_dev = ha_device_name(ha_id)
    master = router.host == host.name
    instance = keepalived_instance(cloud, router, ha_port)
    vips = master_addresses(instance) if master else {}

    def held(dev: str) -> tuple[str, ...]:
        return tuple(a for a in vips.get(dev, ()) if not _link_local(a))

    ha_ips = [p for _, p, _ in prefixed_ips(cloud, ha_port)]
    interfaces = [Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",)),
                  Interface(ha_dev, OVS_INTERNAL, mac=addr.norm_mac(ha_port.mac_address),
                            mtu=cloud.network(ha_port.network_id).mtu,
                            addresses=tuple(ha_ips) + held(ha_dev))]
    devices = [internal_device_name(pid) for pid in router.interface_port_ids]
    ports = [cloud.port(pid) for pid in router.interface_port_ids]
    if router.external_gateway is not None:
        devices.append(external_device_name(router.external_gateway.port_id))
        ports.append(cloud.port(router.external_gateway.port_id))
    for dev, port in zip(devices, ports, strict=True):
        interfaces.append(Interface(dev, OVS_INTERNAL, mac=addr.norm_mac(port.mac_address),
                                    mtu=cloud.network(port.network_id).mtu,
                                    addresses=held(dev)))
    connected: list[Route] = []
    for itf in interfaces[1:]:
        for a in itf.addresses:
            iface = ipaddress.ip_interface(a)
            if iface.network.prefixlen < iface.max_prefixlen:
                connected.append(connected_route(str(iface.network), itf.name, str(iface.ip)))
    static: list[Route] = []
    if master:
        device_of = {}
        for r in instance.routes:
            if r.nexthop:
                dev_ = next((x.device for x in connected
                             if addr.in_cidr(r.nexthop, x.destination)), None)
                if dev_ is not None:
                    device_of[r.nexthop] = dev_
        static = master_routes(instance, device_of)
    defaults = [r for r in static if r.destination == "default"]
    others = [r for r in static if r.destination != "default"]
    ipt = router_iptables(cloud, router)
    namespace = Namespace(
        name=c.ROUTER_NS_PREFIX + router.id, kind=NS_ROUTER, interfaces=tuple(interfaces),
        routes=tuple(defaults + connected + others), iptables=ipt.save(4),
        ip6tables=ipt.save(6), sysctls=_sysctls(cloud, router, master))
    conf = ConfigFile(config_path(router.id), config_text((instance,)), namespace.name)
    return namespace, conf


def program_ha(cloud: model.Cloud, host: model.Host) -> tuple[list[Namespace],
                                                               list[ConfigFile]]:
    """The qrouter- namespaces and keepalived.conf files of the HA routers scheduled to
    ``host``, in ``Cloud.routers`` order, and on their master the radvd.conf of the routers
    with an IPv6 interface subnet (``_update_radvd_daemon('primary')``: radvd runs only on the
    master, once keepalived is up)."""
    namespaces: list[Namespace] = []
    files: list[ConfigFile] = []
    for router in cloud.routers:
        if router.ha and host.name in router.ha_hosts:
            ns, conf = ha_router_state(cloud, host, router)
            namespaces.append(ns)
            files.append(conf)
            if router.host == host.name:
                radvd = ra.radvd_conf(cloud, router.id, ns.name,
                                      [(internal_device_name(pid), cloud.port(pid))
                                       for pid in router.interface_port_ids])
                if radvd is not None:
                    files.append(radvd)
    return namespaces, files
