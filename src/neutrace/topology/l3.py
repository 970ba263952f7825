"""Routers and floating IPs, as Neutron's ``l3_db`` makes them: each legacy router on a network
node's L3 agent (a distributed one's SNAT host and DVR ports: ``dvr``; an HA one's hosts and
master: ``ha``), its interface ports
(``network:router_interface``, the subnet's gateway_ip), its gateway port
(``network:router_gateway`` on an external network), its extra routes; each floating IP's own
port (``network:floatingip``, unbound), its fixed address and the router that connects the
fixed address's subnet to the floating network.
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.model import (
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DVR_INTERFACE,
    DEVICE_OWNER_FLOATINGIP,
    DEVICE_OWNER_HA_REPLICATED_INT,
    DEVICE_OWNER_ROUTER_GW,
    DEVICE_OWNER_ROUTER_INTF,
    ROLE_NETWORK,
    ExternalGateway,
    FloatingIp,
    Network,
    Router,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import IP, check_cidr, check_ip, check_ref, check_unique
from neutrace.topology.dvr import check_legacy_host, snat_host
from neutrace.topology.ha import ha_placement
from neutrace.topology.ipam import allocate, claim, explicit_ips, one_per_family
from neutrace.topology.ports import new_port, subnet_of
from neutrace.topology.source import Path_, where
from neutrace.topology.working import PortW, Working, network_hosts, new_id


@dataclass
class FipW:
    """A floating IP between the two stages of its resolution."""

    fip: s.FloatingIpIn
    path: Path_
    port: PortW
    fnet: Network
    fip_id: str
    fport: PortW


# -- routers -------------------------------------------------------------------------------


def resolve_routers(w: Working) -> tuple[list[Router], list[PortW]]:
    """Every router, and the gateway ports still to get an address."""
    check_unique(w.ctx, ((("routers", i, "name"), r.name) for i, r in enumerate(w.cloud.routers)),
                 "router name")
    routers: list[Router] = []
    gateways: list[PortW] = []
    for i, r in enumerate(w.cloud.routers):
        p: Path_ = ("routers", i)
        router_id = new_id(w, (*p, "id"), r.id, f"router/{r.name}")
        ha_hosts: tuple[str, ...] = ()
        if r.ha:
            ha_hosts, host = ha_placement(w, r, p)
        elif r.distributed:
            host = snat_host(w, r, p)
        else:
            host = _router_host(w, r, p)
            check_legacy_host(w, r, p, host)
        interface_ids, seen_subnets = _router_interfaces(w, r, p, router_id, host)
        _interfaces_off_gateway(w, r, p)
        gateway = None
        if r.external_gateway is not None:
            port = _router_gateway(w, r.external_gateway, (*p, "external_gateway"), router_id,
                                   host)
            gateways.append(port)
            gateway = ExternalGateway(port.network_id, port.id, r.external_gateway.enable_snat)
        routers.append(Router(
            id=router_id, name=r.name, host=host, external_gateway=gateway,
            interface_port_ids=tuple(interface_ids),
            routes=_router_routes(w, r, p, seen_subnets, gateway), distributed=r.distributed,
            ha=r.ha, ha_hosts=ha_hosts, project_id=r.project_id,
        ))
    return routers, gateways


def _router_host(w: Working, r: s.RouterIn, p: Path_) -> str:
    """The network node whose L3 agent hosts the router (the first one by default)."""
    if r.host is None:
        hosts = network_hosts(w)
        if not hosts:
            w.ctx.fail(p, f"router {r.name} needs a host with role network (the L3 agent)",
                       "add network to a host's roles")
        return hosts[0]
    h = check_ref(w.ctx, (*p, "host"), w.hosts, r.host, "host", list(w.hosts))
    if ROLE_NETWORK not in h.roles:
        w.ctx.fail((*p, "host"), f"host {h.name} has no role network (no L3 agent)",
                   f"add network to host {h.name}'s roles or use one of: "
                   f"{', '.join(network_hosts(w)) or 'none'}")
    return h.name


def _router_interfaces(w: Working, r: s.RouterIn, p: Path_, router_id: str,
                       host: str) -> tuple[list[str], dict[str, int]]:
    """add_router_interface per subnet: a port on the subnet's gateway_ip (or the given ip)."""
    interface_ids = []
    seen_subnets: dict[str, int] = {}
    for j, itf in enumerate(r.interfaces):
        ip_: Path_ = (*p, "interfaces", j)
        sub = subnet_of(w, (*ip_, "subnet"), itf.subnet, None)
        if sub.subnet.id in seen_subnets:
            w.ctx.fail((*ip_, "subnet"), f"router {r.name} already has an interface on "
                       f"subnet {sub.subnet.name}", "attach each subnet once")
        seen_subnets[sub.subnet.id] = j
        network = w.net_by_ref[sub.subnet.network_id]
        port = new_port(
            w, path=ip_, id_path=(*ip_, "port_id"), given_id=itf.port_id,
            seed=f"port/router/{router_id}/{sub.subnet.id}", name="", network=network,
            mac=itf.mac, mac_path=(*ip_, "mac"),
            owner=(DEVICE_OWNER_DVR_INTERFACE if r.distributed else
                   DEVICE_OWNER_HA_REPLICATED_INT if r.ha else DEVICE_OWNER_ROUTER_INTF),
            device_id=router_id, host="" if r.distributed else host,
        )
        if itf.ip is not None:
            explicit_ips(w, port, (*ip_, "ip"), [itf.ip], sub)
        elif sub.gateway is None:
            w.ctx.fail((*ip_, "subnet"), f"subnet {sub.subnet.name} has no gateway_ip for "
                       "the router interface", "give the interface an ip or the subnet "
                       "a gateway_ip")
        else:
            claim(w, port, (*ip_, "subnet"), sub.gateway, sub)
        interface_ids.append(port.id)
    return interface_ids, seen_subnets


def _interfaces_off_gateway(w: Working, r: s.RouterIn, p: Path_) -> None:
    """No interface on the router's external gateway network."""
    gw_net = r.external_gateway.network if r.external_gateway else None
    for j, itf in enumerate(r.interfaces):
        sub = w.subnet_by_ref[itf.subnet]
        if gw_net is not None and w.net_by_ref.get(gw_net) is not None and \
                sub.subnet.network_id == w.net_by_ref[gw_net].id:
            w.ctx.fail((*p, "interfaces", j, "subnet"), f"subnet {sub.subnet.name} is on "
                       f"network {gw_net}, the router's external gateway network",
                       "attach the router to that network once: as its gateway")


def _router_gateway(w: Working, g: s.GatewayIn, gp: Path_, router_id: str,
                    host: str) -> PortW:
    """The gateway port on a router:external network (its address allocated later)."""
    network = check_ref(w.ctx, (*gp, "network"), w.net_by_ref, g.network, "network",
                        [n.name for n in w.networks])
    if not network.router_external:
        w.ctx.fail((*gp, "network"), f"network {network.name} is not an external "
                   "network (router:external)", f"set router_external: true on "
                   f"{network.name} or use an external network")
    port = new_port(
        w, path=gp, id_path=(*gp, "port_id"), given_id=g.port_id,
        seed=f"port/router_gateway/{router_id}", name="", network=network,
        mac=g.mac, mac_path=(*gp, "mac"), owner=DEVICE_OWNER_ROUTER_GW,
        device_id=router_id, host=host,
    )
    if g.ip is not None:
        explicit_ips(w, port, (*gp, "ip"), [g.ip], None)
    else:
        subs = [sw for sw in w.subnets if sw.subnet.network_id == network.id]
        if not subs:
            w.ctx.fail((*gp, "network"), f"external network {network.name} has no "
                       "subnet", "add a subnet to it")
        port.allocate_from = one_per_family(subs)
    return port


def _router_routes(w: Working, r: s.RouterIn, p: Path_, seen_subnets: dict[str, int],
                   gateway: ExternalGateway | None) -> tuple[tuple[str, str], ...]:
    """The router's extra routes: each nexthop on a subnet connected to the router."""
    routes = []
    for k, rt in enumerate(r.routes):
        rp: Path_ = (*p, "routes", k)
        dest = check_cidr(w.ctx, (*rp, "destination"), rt.destination)
        hop = check_ip(w.ctx, (*rp, "nexthop"), rt.nexthop, "nexthop")
        connected = [sw for sw in w.subnets if sw.subnet.id in seen_subnets
                     or (gateway is not None and sw.subnet.network_id == gateway.network_id)]
        if not any(hop in sw.net for sw in connected):
            w.ctx.fail((*rp, "nexthop"), f"nexthop {hop} is not on a subnet connected to "
                       f"router {r.name}", "use an address of one of the router's subnets")
        routes.append((str(dest), str(hop)))
    return tuple(routes)


# -- floating IPs ----------------------------------------------------------------------------


def resolve_floating_ips(w: Working) -> list[FipW]:
    """Floating IPs, first stage (before allocation): the port, the floating network and
    the floating IP's own port with its given address claimed."""
    if not w.cloud.floating_ips:
        return []
    vm_ports = _vm_ports(w)
    out: list[FipW] = []
    for i, f in enumerate(w.cloud.floating_ips):
        p: Path_ = ("floating_ips", i)
        if f.port not in vm_ports:
            others = [pw for pw in w.ports if pw.id == f.port]
            if others:
                w.ctx.fail((*p, "port"), f"port {f.port} has device_owner "
                           f"{others[0].device_owner} and cannot have a floating IP",
                           "associate the floating IP with a VM port")
            names = [k for k in vm_ports if ":" in k]
            w.ctx.fail((*p, "port"), f"unknown port {f.port!r}",
                       f"use a VM port as '<vm>:<index>' (one of: {', '.join(names) or 'none'})"
                       " or a VM port's id")
        port = vm_ports[f.port]
        fnet, address = _floating_network(w, f, p)
        fip_id = new_id(w, (*p, "id"), f.id, f"floating_ip/{i}/{f.port}")
        fport = new_port(
            w, path=p, id_path=(*p, "port_id"), given_id=f.port_id,
            seed=f"port/floatingip/{fip_id}", name="", network=fnet, mac=f.port_mac,
            mac_path=(*p, "port_mac"), owner=DEVICE_OWNER_FLOATINGIP, device_id=fip_id,
            host="",
        )
        if address is not None:
            explicit_ips(w, fport, (*p, "floating_ip_address"), [str(address)], None)
        else:
            subs = [sw for sw in w.subnets if sw.subnet.network_id == fnet.id]
            v4 = [sw for sw in subs if sw.net.version == 4]
            if not v4:
                w.ctx.fail(p, f"external network {fnet.name} has no IPv4 subnet",
                           "add an IPv4 subnet to it")
            fport.allocate_from = [v4[0].subnet.id]
        out.append(FipW(f, p, port, fnet, fip_id, fport))
    return out


def _vm_ports(w: Working) -> dict[str, PortW]:
    """The VM ports a floating IP can name: ``<vm>:<index>``, ``<vm>`` (its first) or the id."""
    by_vm: dict[str, list[PortW]] = {}
    for pw in w.ports:
        if pw.device_owner == DEVICE_OWNER_COMPUTE:
            by_vm.setdefault(pw.device_id, []).append(pw)
    vm_ports: dict[str, PortW] = {}
    for v in w.cloud.vms:
        for j, pw in enumerate(by_vm.get(v.name, [])):
            vm_ports[f"{v.name}:{j}"] = pw
            vm_ports.setdefault(v.name, pw)
    for pw in w.ports:
        if pw.device_owner == DEVICE_OWNER_COMPUTE:
            vm_ports[pw.id] = pw
    return vm_ports


def _floating_network(w: Working, f: s.FloatingIpIn, p: Path_) -> tuple[Network, IP | None]:
    """The floating network (given, the one holding the given address, or the only external
    one) and the given floating address."""
    fnet: Network | None = None
    if f.floating_network is not None:
        fnet = check_ref(w.ctx, (*p, "floating_network"), w.net_by_ref, f.floating_network,
                         "network", [n.name for n in w.networks])
    address = None
    if f.floating_ip_address is not None:
        address = check_ip(w.ctx, (*p, "floating_ip_address"), f.floating_ip_address)
        if fnet is None:
            holders = [w.net_by_ref[sw.subnet.network_id] for sw in w.subnets
                       if address in sw.net]
            ext = [n for n in holders if n.router_external]
            if ext:
                fnet = ext[0]
            elif holders:
                fnet = holders[0]
            else:
                w.ctx.fail((*p, "floating_ip_address"), f"floating IP {address} is "
                           "outside the subnets of every external network",
                           "use an address of an external network's subnet")
    if fnet is None:
        externals = [n for n in w.networks if n.router_external]
        if len(externals) != 1:
            w.ctx.fail(p, f"there are {len(externals)} external networks, so the floating "
                       "network is ambiguous", "add floating_network: <an external network>")
        fnet = externals[0]
    if not fnet.router_external:
        w.ctx.fail((*p, "floating_network") if f.floating_network else
                   (*p, "floating_ip_address"),
                   f"floating IP on network {fnet.name}, which is not an external network "
                   "(router:external)",
                   f"set router_external: true on {fnet.name} or use an external network")
    return fnet, address


def finish_floating_ips(w: Working, routers: list[Router],
                        pending: list[FipW]) -> list[FloatingIp]:
    """Floating IPs, second stage (after the ports' addresses are allocated): the floating
    address, the fixed address and the router."""
    out: list[FloatingIp] = []
    seen_fixed: dict[tuple[str, str], Path_] = {}
    ports = {pw.id: pw for pw in w.ports}  # the same objects all along: allocation adds none
    for fw in pending:
        f, p, port, fport = fw.fip, fw.path, fw.port, fw.fport
        allocate(w, fport)
        fixed_sub, fixed_ip = _fixed_ip(w, f, p, port)
        key = (port.id, str(fixed_ip))
        if key in seen_fixed:
            w.ctx.fail((*p, "port"), f"{fixed_ip} of port {f.port} already has a floating IP "
                       f"({where(seen_fixed[key])})", "give each fixed address one floating IP")
        seen_fixed[key] = p
        router = _fip_router(w, f, p, routers, fw.fnet, fixed_sub, fixed_ip, ports)
        out.append(FloatingIp(
            id=fw.fip_id, floating_ip_address=str(fport.ips[0][1]),
            floating_network_id=fw.fnet.id, port_id=port.id, fixed_ip_address=str(fixed_ip),
            router_id=router.id, host=port.host if router.distributed else "",
        ))
    return out


def _fixed_ip(w: Working, f: s.FloatingIpIn, p: Path_, port: PortW) -> tuple[str, IP]:
    """(subnet id, address) of the fixed address: given, else the port's first IPv4."""
    if f.fixed_ip_address is not None:
        fixed = check_ip(w.ctx, (*p, "fixed_ip_address"), f.fixed_ip_address)
        match = [(sid, ip) for sid, ip in port.ips if ip == fixed]
        if not match:
            w.ctx.fail((*p, "fixed_ip_address"), f"{fixed} is not an address of port "
                       f"{f.port}", "use one of the port's addresses: "
                       + ", ".join(str(ip) for _, ip in port.ips))
        return match[0]
    port_v4 = [(sid, ip) for sid, ip in port.ips if ip.version == 4]
    if not port_v4:
        w.ctx.fail((*p, "port"), f"port {f.port} has no IPv4 address",
                   "floating IPs need an IPv4 fixed address")
    return port_v4[0]


def _fip_router(w: Working, f: s.FloatingIpIn, p: Path_, routers: list[Router],
                fnet: Network, fixed_sub: str, fixed_ip: IP,
                ports: dict[str, PortW]) -> Router:
    """The router with an interface on the fixed address's subnet and its gateway on the
    floating network (the given one, checked); ``ports`` by id."""
    sub_name = w.subnet_by_ref[fixed_sub].subnet.name
    candidates = [
        r for r in routers
        if r.external_gateway is not None and r.external_gateway.network_id == fnet.id
        and any(ports[pid].ips and ports[pid].ips[0][0] == fixed_sub
                for pid in r.interface_port_ids)
    ]
    if f.router is not None:
        wanted = [r for r in routers if f.router in (r.name, r.id)]
        if not wanted:
            w.ctx.fail((*p, "router"), f"unknown router {f.router!r}",
                       f"use one of: {', '.join(r.name for r in routers) or 'none'}")
        if wanted[0] not in candidates:
            w.ctx.fail((*p, "router"), f"router {wanted[0].name} does not connect subnet "
                       f"{sub_name} to network {fnet.name}", "use a router with an interface "
                       "on the port's subnet and its gateway on the floating network")
        candidates = wanted
    if not candidates:
        w.ctx.fail(p, f"no router connects subnet {sub_name} (of {fixed_ip}) to external "
                   f"network {fnet.name}", f"add a router with external_gateway on {fnet.name} "
                   f"and an interface on subnet {sub_name}")
    return candidates[0]
