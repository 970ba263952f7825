"""neutron-l3-agent for legacy (centralized) routers, re-enacted (layer 3).

Per router hosted on the host, the namespace ``qrouter-<router id>`` as ``RouterInfo`` leaves it
after ``process()``: ``lo``, ``qr-<port id[:11]>`` per interface (an OVS internal port on br-int;
the port's fixed IPs with the subnet's prefix), ``qg-<port id[:11]>`` for the gateway (its fixed
IPs plus every floating IP as /32), connected routes, a default route per IP version via the
external subnets' gateways (IPv6 too: routed, never NATed), extra routes, the sysctls of
``RouterNamespace.create`` (``ip_forward=1``, ``arp_ignore=1``, ``arp_announce=2``, ...) and of
``_configure_ipv6_params_on_gw`` (the gateway accepts RAs only without an IPv6 gateway), radvd
for the interfaces with IPv6 subnets (``agents.l3.ra``), and iptables/ip6tables in the order the
agent adds them:

- ``RouterInfo.__init__``: address-scope chains (mangle ``scope``/``floatingip``/``float-snat``,
  filter ``scope``), the metadata mark (mangle PREROUTING, ``0x1/0xffff``);
- ``_handle_router_snat_rules``: ``snat -j float-snat``; ``-o qg-... -j SNAT --to-source <gw>``;
  ``! -o qg-... -m conntrack ! --ctstate DNAT -j ACCEPT``; the DNAT-reply SNAT with
  ``-m mark ! --mark 0x2/0xffff``; mangle ``mark``: ``-i qg-... -j MARK --set-xmark
  0x2/0xffff``; mangle POSTROUTING CONNMARK save on qg-;
- floating IPs: PREROUTING/OUTPUT DNAT, ``float-snat`` SNAT to the floating IP;
- address scopes (all in the default scope, mark 0x4000000/0xffff0000);
- ``after_router_added`` (metadata driver, published after the first ``process()``): INPUT
  accept/drop for port 9697, nat PREROUTING REDIRECT of 169.254.169.254:80.

SNAT rules get ``--random-fully`` ([agent] use_random_fully, on by default with iptables >= 1.6).
"""

from __future__ import annotations

import ipaddress

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.iptables import IptablesManager
from neutrace.agents.l3 import ra
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
from neutrace.errors import TopologyError


def internal_device_name(port_id: str) -> str:
    return (c.INTERNAL_DEV_PREFIX + port_id)[: c.LINUX_DEV_LEN]


def external_device_name(port_id: str) -> str:
    return (c.EXTERNAL_DEV_PREFIX + port_id)[: c.LINUX_DEV_LEN]


def _random_fully(rule: str) -> str:
    return rule + " --random-fully" if c.USE_RANDOM_FULLY else rule


def prefixed_ips(cloud: model.Cloud, port: model.Port) -> list[tuple[str, str, model.Subnet]]:
    """(ip, ip/prefix, subnet) for each fixed IP of ``port``."""
    out = []
    for f in port.fixed_ips:
        subnet = cloud.subnet(f.subnet_id)
        prefix = ipaddress.ip_network(subnet.cidr, strict=False).prefixlen
        out.append((f.ip_address, f"{f.ip_address}/{prefix}", subnet))
    return out


def initialize_address_scope_iptables(ipt: IptablesManager) -> None:
    """``RouterInfo._initialize_address_scope_iptables``: the scope/floatingip/float-snat
    chains and their jumps (also the snat- namespace's manager of a DVR router)."""
    v4, v6 = ipt.ipv4, ipt.ipv6
    v4["mangle"].add_chain("scope")
    v6["mangle"].add_chain("scope")
    v4["mangle"].add_chain("floatingip")
    v4["mangle"].add_chain("float-snat")
    v4["filter"].add_chain("scope")
    v6["filter"].add_chain("scope")
    v4["filter"].add_rule("FORWARD", "-j $scope")
    v6["filter"].add_rule("FORWARD", "-j $scope")
    restore = ("-m connmark ! --mark 0x0/0xffff0000 -j CONNMARK --restore-mark "
               "--nfmask 0xffff0000 --ctmask 0xffff0000")
    save = ("-m connmark --mark 0x0/0xffff0000 -j CONNMARK --save-mark "
            "--nfmask 0xffff0000 --ctmask 0xffff0000")
    v4["mangle"].add_rule("PREROUTING", "-j $scope")
    v4["mangle"].add_rule("PREROUTING", restore)
    v4["mangle"].add_rule("PREROUTING", "-j $floatingip")
    v4["mangle"].add_rule("float-snat", save)
    v6["mangle"].add_rule("PREROUTING", "-j $scope")
    v6["mangle"].add_rule("PREROUTING", restore)


def initialize_metadata_iptables(ipt: IptablesManager) -> None:
    """``RouterInfo.initialize_metadata_iptables``: mark metadata requests, drop them in
    FORWARD."""
    mark_mask = c.ROUTER_MARK_MASK
    for tables, dest in ((ipt.ipv4, c.METADATA_V4_CIDR), (ipt.ipv6, f"{c.METADATA_V6_IP}/128")):
        tables["mangle"].add_rule(
            "PREROUTING", f"-d {dest} -i {c.INTERNAL_DEV_PREFIX}+ -p tcp -m tcp "
            f"--dport 80 -j MARK --set-xmark {c.METADATA_ACCESS_MARK}/{mark_mask}")
        tables["filter"].add_rule("scope",
                                  f"-m mark --mark {c.METADATA_ACCESS_MARK}/{mark_mask} -j DROP")


def add_address_scope_mark(ipt: IptablesManager, devices: dict[int, list[str]],
                           dont_block: str | None) -> None:
    """``_add_address_scope_mark`` with every port in the default scope: mark what enters by
    each device, drop what leaves by it unmarked (not by ``dont_block``: the IPv4 gateway of a
    router with SNAT)."""
    scope_mark = f"{hex(c.ADDRESS_SCOPE_MARK_ID_MIN << 16)}/{c.ADDRESS_SCOPE_MARK_MASK}"
    for version, tables in ((4, ipt.ipv4), (6, ipt.ipv6)):
        tables["mangle"].empty_chain("scope")
        tables["filter"].empty_chain("scope")
        for dev in devices[version]:
            tables["mangle"].add_rule("scope", f"-i {dev} -j MARK --set-xmark {scope_mark}")
            if version == 4 and dev == dont_block:
                continue
            tables["filter"].add_rule("scope", f"-o {dev} -m mark ! --mark {scope_mark} -j DROP")


def metadata_after_router_added(ipt: IptablesManager) -> None:
    """The metadata driver's ``after_router_added`` (ROUTER AFTER_CREATE, after the first
    ``process()``): accept marked requests on port 9697, drop the rest, redirect
    169.254.169.254:80 there."""
    mark_mask = c.ROUTER_MARK_MASK
    for tables in (ipt.ipv4, ipt.ipv6):
        tables["filter"].add_rule(
            "INPUT", f"-m mark --mark {c.METADATA_ACCESS_MARK}/{mark_mask} -j ACCEPT")
        tables["filter"].add_rule("INPUT", f"-p tcp -m tcp --dport {c.METADATA_PORT} -j DROP")
    for tables, dest in ((ipt.ipv4, c.METADATA_V4_CIDR), (ipt.ipv6, c.METADATA_V6_CIDR)):
        tables["nat"].add_rule(
            "PREROUTING", f"-d {dest} -i {c.INTERNAL_DEV_PREFIX}+ -p tcp -m tcp --dport 80 "
            f"-j REDIRECT --to-ports {c.METADATA_PORT}")


def empty_snat_chains(ipt: IptablesManager) -> None:
    """``_empty_snat_chains``."""
    ipt.ipv4["nat"].empty_chain("POSTROUTING")
    ipt.ipv4["nat"].empty_chain("snat")
    ipt.ipv4["mangle"].empty_chain("mark")
    ipt.ipv4["mangle"].empty_chain("POSTROUTING")


def add_snat_rules(ipt: IptablesManager, gw: model.ExternalGateway, gw_port: model.Port,
                   qg: str) -> None:
    """``_add_snat_rules``: the connmark save (``process_external_port_address_scope_routing``),
    SNAT to the first IPv4 gateway address, no SNAT for internal traffic but DNAT replies, the
    ingress mark of the gateway device."""
    v4 = ipt.ipv4
    mark_mask = c.ROUTER_MARK_MASK
    if gw.enable_snat:
        v4["mangle"].add_rule(
            "POSTROUTING", f"-o {qg} -m connmark --mark 0x0/0xffff0000 -j CONNMARK "
            "--save-mark --nfmask 0xffff0000 --ctmask 0xffff0000")
    for f in gw_port.fixed_ips:
        if ipaddress.ip_address(f.ip_address).version != 4:
            continue
        ex_gw_ip = f.ip_address
        if gw.enable_snat:
            v4["nat"].add_rule("snat", _random_fully(f"-o {qg} -j SNAT --to-source {ex_gw_ip}"))
        v4["nat"].add_rule("POSTROUTING", f"! -o {qg} -m conntrack ! --ctstate DNAT -j ACCEPT")
        v4["nat"].add_rule("snat", _random_fully(
            f"-m mark ! --mark {c.EXTERNAL_INGRESS_MARK}/{mark_mask} -m conntrack "
            f"--ctstate DNAT -j SNAT --to-source {ex_gw_ip}"))
        v4["mangle"].add_rule(
            "mark", f"-i {qg} -j MARK --set-xmark {c.EXTERNAL_INGRESS_MARK}/{mark_mask}")
        break


def router_iptables(cloud: model.Cloud, router: model.Router) -> IptablesManager:
    ipt = IptablesManager(c.L3_AGENT_BINARY)
    v4 = ipt.ipv4
    # RouterInfo.__init__ -> _initialize_address_scope_iptables, initialize_metadata_iptables
    initialize_address_scope_iptables(ipt)
    initialize_metadata_iptables(ipt)
    # process_external -> _handle_router_snat_rules
    gw = router.external_gateway
    gw_port = cloud.port(gw.port_id) if gw else None
    qg = external_device_name(gw.port_id) if gw else None
    empty_snat_chains(ipt)
    v4["nat"].add_rule("snat", "-j $float-snat")
    if gw and gw_port and qg:
        add_snat_rules(ipt, gw, gw_port, qg)
        # process_snat_dnat_for_fip
        for fip in router_floating_ips(cloud, router):
            v4["nat"].add_rule("PREROUTING", f"-d {fip.floating_ip_address}/32 -j DNAT "
                               f"--to-destination {fip.fixed_ip_address}", tag="floating_ip")
            v4["nat"].add_rule("OUTPUT", f"-d {fip.floating_ip_address}/32 -j DNAT "
                               f"--to-destination {fip.fixed_ip_address}", tag="floating_ip")
            v4["nat"].add_rule("float-snat", _random_fully(
                f"-s {fip.fixed_ip_address}/32 -j SNAT --to-source {fip.floating_ip_address}"),
                tag="floating_ip")
    # process_address_scope -> process_ports_address_scope_iptables (default scope everywhere)
    devices: dict[int, list[str]] = {4: [], 6: []}
    for pid in router.interface_port_ids:
        for version in _versions(cloud.port(pid)):
            devices[version].append(internal_device_name(pid))
    if gw and gw_port and qg:
        for version in _versions(gw_port):
            devices[version].append(qg)
    add_address_scope_mark(ipt, devices, qg if gw and gw.enable_snat else None)
    metadata_after_router_added(ipt)
    return ipt


def _versions(port: model.Port) -> list[int]:
    return list(dict.fromkeys(ipaddress.ip_address(f.ip_address).version
                              for f in port.fixed_ips))


def router_floating_ips(cloud: model.Cloud, router: model.Router) -> list[model.FloatingIp]:
    return [f for f in cloud.floating_ips if f.router_id == router.id and f.port_id]


def port_interface(cloud: model.Cloud, port: model.Port, dev: str,
                   extra: tuple[str, ...] = ()) -> tuple[Interface, list[Route]]:
    """``_internal_network_added``/``_external_gateway_added``'s device: an OVS internal port
    with the port's MAC, its network's MTU and its fixed IPs (then ``extra``), and the kernel's
    connected routes."""
    ips = prefixed_ips(cloud, port)
    itf = Interface(dev, OVS_INTERNAL, mac=addr.norm_mac(port.mac_address),
                    mtu=cloud.network(port.network_id).mtu,
                    addresses=tuple(p for _, p, _ in ips) + extra)
    return itf, [connected_route(s.cidr, dev, ip) for ip, _, s in ips]


def router_namespace(cloud: model.Cloud, router: model.Router) -> Namespace:
    interfaces = [Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",))]
    routes: list[Route] = []
    for pid in router.interface_port_ids:
        itf, connected = port_interface(cloud, cloud.port(pid), internal_device_name(pid))
        interfaces.append(itf)
        routes += connected
    gw = router.external_gateway
    default: list[Route] = []
    if gw:
        port = cloud.port(gw.port_id)
        dev = external_device_name(gw.port_id)
        ips = prefixed_ips(cloud, port)
        fips = [f"{f.floating_ip_address}/32" for f in router_floating_ips(cloud, router)]
        interfaces.append(Interface(dev, OVS_INTERNAL, mac=addr.norm_mac(port.mac_address),
                                    mtu=cloud.network(port.network_id).mtu,
                                    addresses=tuple([p for _, p, _ in ips] + fips)))
        routes += [connected_route(s.cidr, dev, ip) for ip, _, s in ips]
        default = gateway_routes(cloud, port, dev)
    for dest, nexthop in router.routes:
        via_dev = next((r.device for r in routes
                        if r.destination != "default" and addr.in_cidr(nexthop, r.destination)),
                       None)
        if via_dev is None:
            raise TopologyError("<cloud>", f"routers[{router.name}].routes",
                                f"nexthop {nexthop} is on none of the router's subnets",
                                "use a nexthop inside one of the router's subnets")
        routes.append(Route(dest, via_dev, gateway=nexthop))
    ipt = router_iptables(cloud, router)
    # RouterNamespace.create(), then _configure_ipv6_params_on_gw
    sysctls = [("net.netfilter.nf_conntrack_tcp_be_liberal", "1"), ("net.ipv4.ip_forward", "1"),
               ("net.ipv4.conf.all.arp_ignore", "1"), ("net.ipv4.conf.all.arp_announce", "2"),
               ("net.ipv6.conf.all.forwarding", "1")]
    if gw:
        sysctls += ipv6_gateway_sysctls(default, external_device_name(gw.port_id))
    return Namespace(
        name=c.ROUTER_NS_PREFIX + router.id, kind=NS_ROUTER, interfaces=tuple(interfaces),
        routes=tuple(default + routes), iptables=ipt.save(4), ip6tables=ipt.save(6),
        sysctls=tuple(sysctls))


def gateway_routes(cloud: model.Cloud, port: model.Port, dev: str) -> list[Route]:
    """``_external_gateway_added``'s ``device.route.add_gateway`` for the gateway_ip of every
    subnet of the gateway port (``_get_external_gw_ips``): a default route per IP version
    (``ip route replace``: a later subnet's gateway of the same version replaces the earlier),
    IPv4 first. An IPv6 default route exists only when the external IPv6 subnet has a
    gateway_ip (else the router learns it from the RAs it accepts)."""
    gateways: dict[int, str] = {}
    for _, _, subnet in prefixed_ips(cloud, port):
        if subnet.gateway_ip:
            gateways[subnet.ip_version] = subnet.gateway_ip
    return [Route("default", dev, gateway=gateways[v]) for v in (4, 6) if v in gateways]


def ipv6_gateway_sysctls(default: list[Route], qg: str) -> list[tuple[str, str]]:
    """``_configure_ipv6_params_on_gw``: with an IPv6 gateway the gateway device accepts no RAs
    (``ACCEPT_RA_DISABLED``), without one it accepts them while forwarding
    (``ACCEPT_RA_WITH_FORWARDING``); it forwards IPv6 either way."""
    has_v6 = any(r.gateway and addr.ip_version(r.gateway) == 6 for r in default)
    return [(f"net.ipv6.conf.{qg}.accept_ra", "0" if has_v6 else "2"),
            (f"net.ipv6.conf.{qg}.forwarding", "1")]


def _legacy_routers(cloud: model.Cloud, host: model.Host) -> list[model.Router]:
    return [r for r in cloud.routers if r.host == host.name and not r.distributed and not r.ha]


def program_l3(cloud: model.Cloud, host: model.Host) -> list[Namespace]:
    return [router_namespace(cloud, r) for r in _legacy_routers(cloud, host)]


def program_radvd(cloud: model.Cloud, host: model.Host) -> list[ConfigFile]:
    """``_process_internal_ports`` -> ``enable_radvd``: the radvd.conf of each legacy router of
    the host and of each distributed router instantiated on it (every DVR host's qrouter- runs
    its own radvd for the router's interfaces) when an interface has an IPv6 subnet."""
    out = []
    dvr = [r for r in cloud.routers if r.distributed and host.name in r.dvr_hosts]
    for r in _legacy_routers(cloud, host) + dvr:
        conf = ra.radvd_conf(cloud, r.id, c.ROUTER_NS_PREFIX + r.id,
                             [(internal_device_name(pid), cloud.port(pid))
                              for pid in r.interface_port_ids])
        if conf is not None:
            out.append(conf)
    return out
