"""From a schema-checked topology (``schema.CloudIn``) to a complete, validated ``model.Cloud``.

This is where the meaning of the values is checked (addresses inside their subnets, references
between objects, VLAN/VNI ranges, bridge mappings and tunnels on the hosts that need them, Linux
device names) and where everything Neutron would fill in is filled in, deterministically:

- ids from ``addr.stable_uuid`` and port MACs from ``addr.stable_mac`` (``fa:16:3e:...``), seeded
  by the cloud's name and the object's place (never by randomness or time);
- gateway_ip (the subnet's first address) and allocation pools, as Neutron's
  ``ipam_utils.generate_pools``;
- the ports Neutron creates: DHCP ports (``network:dhcp``, one per network-node host for each
  network with a DHCP-enabled subnet, first free pool address), router interface ports
  (``network:router_interface``, the subnet's gateway_ip), router gateway ports
  (``network:router_gateway``, first free pool address when not given) and floating IP ports
  (``network:floatingip``, unbound);
- Neutron's ``default`` security group for ports that name none, and the two egress rules Neutron
  adds to every new group.

Addresses are allocated in the order Neutron would create the ports: first every address the file
gives, then DHCP ports, router gateways, VM ports and floating IPs, each taking the first free
address of its subnet's allocation pools.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

from neutrace import addr
from neutrace.errors import TopologyError
from neutrace.model import (
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_FLOATINGIP,
    DEVICE_OWNER_ROUTER_GW,
    DEVICE_OWNER_ROUTER_INTF,
    ROLE_COMPUTE,
    ROLE_NETWORK,
    TUNNEL_TYPES,
    TYPE_FLAT,
    TYPE_GRE,
    TYPE_LOCAL,
    TYPE_VLAN,
    TYPE_VXLAN,
    AllocationPool,
    AllowedAddressPair,
    Cloud,
    ExternalGateway,
    FixedIp,
    FloatingIp,
    Host,
    Network,
    OutsideHost,
    PhysicalNic,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Vm,
)
from neutrace.topology import schema as s
from neutrace.topology.source import Lines, Path_, line_of, where

_T = TypeVar("_T")
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_VLAN = 4094
MAX_VNI = 2**24 - 1
MAX_GRE_KEY = 2**32 - 1
IFNAMSIZ = 15  # Linux: 16 bytes with the trailing NUL
_DEVNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_DEFAULT_MTU = {TYPE_VXLAN: 1450, TYPE_GRE: 1458}  # 1500 minus the encapsulation overhead
_PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "sctp", "udplite", "ah", "esp", "gre")
_PORT_PROTOCOLS = ("tcp", "udp", "sctp", "udplite", "6", "17", "132", "136")
_ICMP_PROTOCOLS = ("icmp", "icmpv6", "ipv6-icmp", "1", "58")
OUTSIDE_BASE_MAC = "02:00:5e"  # locally administered: outside hosts are not Neutron ports


class Ctx:
    """Where errors point: the source name and the line of each path."""

    def __init__(self, source: str, lines: Lines) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: Path_, problem: str, fix: str = "") -> NoReturn:
        raise TopologyError(self.source, where(path), problem, fix, line_of(self.lines, path))


# -- value checks ------------------------------------------------------------------------------


def _ip(ctx: Ctx, path: Path_, text: str, what: str = "IP address") -> IP:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        label = f"{text!r}" if what == "IP address" else f"{what} {text!r}"
        ctx.fail(path, f"{label} is not an IP address",
                 "write an IPv4 address like 192.0.2.10 or an IPv6 address like 2001:db8::10")


def _cidr(ctx: Ctx, path: Path_, text: str) -> Net:
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        ctx.fail(path, f"{text!r} is not a CIDR", "write a network like 10.0.0.0/24")
    if "/" not in text:
        ctx.fail(path, f"{text!r} has no prefix length",
                 f"write {loose.network_address}/<prefixlen>")
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        ctx.fail(path, f"{text!r} has host bits set", f"write {loose}")


def _mac(ctx: Ctx, path: Path_, text: str) -> str:
    try:
        mac = addr.norm_mac(text)
    except ValueError:
        ctx.fail(path, f"{text!r} is not a MAC address",
                 "write six hex bytes like fa:16:3e:12:34:56")
    if addr.is_multicast_mac(mac):
        ctx.fail(path, f"{mac} is a multicast MAC address",
                 "use a unicast MAC (lowest bit of the first byte clear), like fa:16:3e:12:34:56")
    return mac


def _uuid(ctx: Ctx, path: Path_, text: str) -> str:
    if not _UUID_RE.match(text):
        ctx.fail(path, f"id {text!r} is not a UUID",
                 "write a lowercase UUID like 466214fa-3d8c-4b5e-a1f0-7c2d9e6b5a13, "
                 "or leave the id out to have one generated")
    return text


def _devname(ctx: Ctx, path: Path_, name: str, what: str) -> str:
    if len(name) > IFNAMSIZ:
        ctx.fail(path, f"{what} name {name!r} is {len(name)} characters, longer than Linux's "
                 f"{IFNAMSIZ}", f"use a name of at most {IFNAMSIZ} characters")
    if not _DEVNAME_RE.match(name):
        ctx.fail(path, f"{what} name {name!r} is not a safe Linux device name",
                 "use letters, digits, '_', '.' and '-' only, starting with a letter or digit")
    return name


def _in_range(ctx: Ctx, path: Path_, value: int, low: int, high: int, what: str, fix: str) -> int:
    if not low <= value <= high:
        ctx.fail(path, f"{what} {value} is out of range {low}..{high}", fix)
    return value


def _unique(ctx: Ctx, items: Iterable[tuple[Path_, str]], what: str) -> None:
    seen: dict[str, Path_] = {}
    for path, key in items:
        if key in seen:
            ctx.fail(path, f"duplicate {what} {key!r} (also at {where(seen[key])})",
                     f"give each a different {what}")
        seen[key] = path


def _generate_pools(net: Net, gateway: IP | None) -> list[tuple[IP, IP]]:
    """Neutron's ipam_utils.generate_pools: first usable to last usable, without the gateway."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if first == last:
        return [(net.network_address, net.network_address)]
    start, end = first + 1, last - (1 if net.version == 4 else 0)
    if start >= end:
        return []
    make = type(net.network_address)
    if gateway is None or not start <= int(gateway) <= end:
        return [(make(start), make(end))]
    pools = []
    if start < int(gateway):
        pools.append((make(start), make(int(gateway) - 1)))
    if int(gateway) < end:
        pools.append((make(int(gateway) + 1), make(end)))
    return pools


def dhcp_device_id(network_id: str, host: str) -> str:
    """Neutron's ``common_utils.get_dhcp_agent_device_id``."""
    host_uuid = uuid.uuid5(uuid.NAMESPACE_DNS, host.split(".")[0])
    return f"dhcp{host_uuid}-{network_id}"


# -- working state -----------------------------------------------------------------------------


@dataclass
class _SubnetW:
    subnet: Subnet
    net: Net
    gateway: IP | None
    pools: list[tuple[IP, IP]]
    path: Path_


@dataclass
class _PortW:
    """A port being built: addresses may still be missing (allocated later)."""

    id: str
    name: str
    network_id: str
    mac: str | None
    device_owner: str
    device_id: str
    host: str
    path: Path_
    ips: list[tuple[str, IP]] = field(default_factory=list)
    allocate_from: list[str] = field(default_factory=list)  # subnet ids still to allocate from
    security_groups: tuple[str, ...] = ()
    port_security_enabled: bool = True
    pairs: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class _FipW:
    """A floating IP between the two stages of its resolution."""

    fip: s.FloatingIpIn
    path: Path_
    port: _PortW
    fnet: Network
    fip_id: str
    fport: _PortW


class _Resolver:
    def __init__(self, cloud: s.CloudIn, ctx: Ctx) -> None:
        self.c = cloud
        self.ctx = ctx
        self.name = cloud.name
        self.hosts: dict[str, s.HostIn] = {}
        self.networks: list[Network] = []
        self.net_by_ref: dict[str, Network] = {}
        self.net_path: dict[str, Path_] = {}
        self.subnets: list[_SubnetW] = []
        self.subnet_by_ref: dict[str, _SubnetW] = {}
        self.ports: list[_PortW] = []
        self.used_ips: dict[str, dict[IP, str]] = {}  # network id -> ip -> owner
        self.sg_by_ref: dict[str, s.SecurityGroupIn] = {}
        self.sg_ids: dict[str, str] = {}  # sg name -> id
        self.ids: dict[str, Path_] = {}
        self._cursor: dict[str, tuple[int, int | None]] = {}

    # ids
    def _id(self, path: Path_, given: str | None, seed: str) -> str:
        value = _uuid(self.ctx, path, given) if given is not None else addr.stable_uuid(
            f"{self.name}/{seed}")
        if value in self.ids:
            self.ctx.fail(path, f"duplicate id {value} (also at {where(self.ids[value])})",
                          "give each object its own id")
        self.ids[value] = path
        return value

    def _ref(self, path: Path_, table: dict[str, _T], ref: str, what: str,
             known: Sequence[str]) -> _T:
        if ref not in table:
            listed = ", ".join(known) if known else "none are defined"
            self.ctx.fail(path, f"unknown {what} {ref!r}", f"use one of: {listed}")
        return table[ref]

    # -- hosts --
    def hosts_pass(self) -> list[tuple[str, str]]:
        ctx = self.ctx
        _unique(ctx, ((("hosts", i, "name"), h.name) for i, h in enumerate(self.c.hosts)),
                "host name")
        tunnel_ips: list[tuple[Path_, str]] = []
        nic_segments: list[tuple[str, str]] = []
        for i, h in enumerate(self.c.hosts):
            p: Path_ = ("hosts", i)
            if not _HOSTNAME_RE.match(h.name):
                ctx.fail((*p, "name"), f"host name {h.name!r} is not a valid hostname",
                         "use letters, digits, '-' and '.'")
            _ip(ctx, (*p, "management_ip"), h.management_ip)
            if h.tunnel_ip is not None:
                _ip(ctx, (*p, "tunnel_ip"), h.tunnel_ip)
                tunnel_ips.append(((*p, "tunnel_ip"), str(ipaddress.ip_address(h.tunnel_ip))))
            if h.tunnel_types and h.tunnel_ip is None:
                ctx.fail((*p, "tunnel_types"), f"host {h.name} has tunnel_types but no tunnel_ip",
                         "add tunnel_ip: <this host's address on the tunnel network>, "
                         "or remove tunnel_types")
            _devname(ctx, (*p, "tunnel_nic"), h.tunnel_nic, "tunnel NIC")
            bridges: dict[str, str] = {}
            for physnet, bridge in h.bridge_mappings.items():
                bp = (*p, "bridge_mappings", physnet)
                if not physnet:
                    ctx.fail(bp, "empty physical network name", "name the physnet, like physnet1")
                _devname(ctx, bp, bridge, "bridge")
                if bridge in ("br-int", "br-tun"):
                    ctx.fail(bp, f"{bridge} cannot be a physical bridge (the agent owns it)",
                             "map the physnet to its own bridge, like br-ex")
                if bridge in bridges:
                    ctx.fail(bp, f"bridge {bridge} is mapped twice ({bridges[bridge]} and "
                             f"{physnet}); Neutron needs one physnet per bridge",
                             "map each physnet to its own bridge")
                bridges[bridge] = physnet
            nic_names: set[str] = set()
            for j, nic in enumerate(h.physical_nics):
                np_ = (*p, "physical_nics", j)
                _devname(ctx, (*np_, "name"), nic.name, "NIC")
                _devname(ctx, (*np_, "bridge"), nic.bridge, "bridge")
                if nic.name in nic_names:
                    ctx.fail((*np_, "name"), f"NIC {nic.name} is listed twice on host {h.name}",
                             "list each NIC once")
                nic_names.add(nic.name)
                if nic.bridge not in bridges:
                    known = ", ".join(sorted(bridges)) or "none"
                    ctx.fail((*np_, "bridge"),
                             f"bridge {nic.bridge} is not in host {h.name}'s bridge_mappings "
                             f"(bridges: {known})",
                             f"add '<physnet>: {nic.bridge}' to bridge_mappings or use one of "
                             "its bridges")
                if not nic.segment:
                    ctx.fail((*np_, "segment"), "empty segment name",
                             "name the physical L2 segment the NIC plugs into, like external")
                nic_segments.append((nic.segment, bridges[nic.bridge]))
            self.hosts[h.name] = h
        _unique(ctx, tunnel_ips, "tunnel_ip")
        _unique(ctx, ((("hosts", i, "management_ip"), str(ipaddress.ip_address(h.management_ip)))
                      for i, h in enumerate(self.c.hosts)), "management_ip")
        return nic_segments

    # -- security groups (names and ids first: ports refer to them) --
    def sg_names_pass(self) -> None:
        ctx = self.ctx
        _unique(ctx, ((("security_groups", i, "name"), g.name)
                      for i, g in enumerate(self.c.security_groups)), "security group name")
        for i, g in enumerate(self.c.security_groups):
            sg_id = self._id(("security_groups", i, "id"), g.id, f"security_group/{g.name}")
            self.sg_ids[g.name] = sg_id
            self.sg_by_ref[g.name] = g
            self.sg_by_ref[sg_id] = g

    # -- networks and subnets --
    def networks_pass(self) -> None:
        ctx = self.ctx
        _unique(ctx, ((("networks", i, "name"), n.name) for i, n in enumerate(self.c.networks)),
                "network name")
        _unique(ctx, ((("networks", i, "subnets", j, "name"), sn.name)
                      for i, n in enumerate(self.c.networks) for j, sn in enumerate(n.subnets)),
                "subnet name")
        segments: dict[tuple[str, str | None, int | None], Path_] = {}
        used_ids: dict[str, set[int]] = {TYPE_VXLAN: set(), TYPE_GRE: set()}
        for n in self.c.networks:
            if n.provider is not None and n.provider.segmentation_id is not None and \
                    n.provider.network_type in used_ids:
                used_ids[n.provider.network_type].add(n.provider.segmentation_id)
        for i, n in enumerate(self.c.networks):
            p: Path_ = ("networks", i)
            net_id = self._id((*p, "id"), n.id, f"network/{n.name}")
            prov = n.provider or s.ProviderIn(network_type="vxlan")
            pp = (*p, "provider")
            ntype, physnet, seg = prov.network_type, prov.physical_network, prov.segmentation_id
            if ntype in (TYPE_FLAT, TYPE_VLAN):
                if not physnet:
                    ctx.fail(pp, f"a {ntype} network needs provider.physical_network",
                             "add physical_network: <a physnet of the hosts' bridge_mappings>")
            elif physnet is not None:
                ctx.fail((*pp, "physical_network"),
                         f"a {ntype} network has no physical_network", "remove physical_network")
            if ntype in (TYPE_FLAT, TYPE_LOCAL) and seg is not None:
                ctx.fail((*pp, "segmentation_id"), f"a {ntype} network has no segmentation_id",
                         "remove segmentation_id")
            if ntype == TYPE_VLAN:
                if seg is None:
                    ctx.fail(pp, "a vlan network needs provider.segmentation_id (its VLAN id)",
                             f"add segmentation_id: <1..{MAX_VLAN}>")
                _in_range(ctx, (*pp, "segmentation_id"), seg, 1, MAX_VLAN, "VLAN id",
                          f"use a VLAN id between 1 and {MAX_VLAN}")
            elif ntype in TUNNEL_TYPES:
                high = MAX_VNI if ntype == TYPE_VXLAN else MAX_GRE_KEY
                if seg is None:
                    seg = next(v for v in range(1, high + 1) if v not in used_ids[ntype])
                    used_ids[ntype].add(seg)
                what = "VNI" if ntype == TYPE_VXLAN else "GRE key"
                _in_range(ctx, (*pp, "segmentation_id"), seg, 1, high, what,
                          f"use a {what} between 1 and {high}")
            key = (ntype, physnet if ntype in (TYPE_FLAT, TYPE_VLAN) else None,
                   seg if ntype != TYPE_FLAT else None)
            if ntype != TYPE_LOCAL:
                if key in segments:
                    other = where(segments[key])
                    ctx.fail(pp, f"the {ntype} segment {_segment_text(key)} is already used by "
                             f"{other}",
                             "give each network its own segment (another segmentation_id or "
                             "physical_network)")
                segments[key] = p
            mtu = n.mtu if n.mtu is not None else _DEFAULT_MTU.get(ntype, 1500)
            _in_range(ctx, (*p, "mtu"), mtu, 68, 9216, "MTU", "use an MTU between 68 and 9216")
            network = Network(
                id=net_id, name=n.name, network_type=ntype, physical_network=physnet,
                segmentation_id=seg, router_external=n.router_external, shared=n.shared,
                mtu=mtu, project_id=n.project_id,
            )
            self.networks.append(network)
            self.net_by_ref[n.name] = network
            self.net_by_ref[net_id] = network
            self.net_path[net_id] = p
            self.used_ips[net_id] = {}
            self._subnets(n, network, p)

    def _subnets(self, n: s.NetworkIn, network: Network, p: Path_) -> None:
        ctx = self.ctx
        nets: list[tuple[Net, Path_]] = []
        for j, sn in enumerate(n.subnets):
            sp: Path_ = (*p, "subnets", j)
            sub_id = self._id((*sp, "id"), sn.id, f"subnet/{network.name}/{sn.name}")
            net = _cidr(ctx, (*sp, "cidr"), sn.cidr)
            if sn.ip_version is not None and sn.ip_version != net.version:
                ctx.fail((*sp, "ip_version"), f"ip_version {sn.ip_version} but cidr {net} is "
                         f"IPv{net.version}", f"use ip_version: {net.version} or remove it")
            for other, op in nets:
                if net.version == other.version and net.overlaps(other):
                    ctx.fail((*sp, "cidr"), f"{net} overlaps {other} ({where(op)}) on the same "
                             "network", "use non-overlapping subnets")
            nets.append((net, (*sp, "cidr")))
            gateway: IP | None
            if "gateway_ip" not in sn.model_fields_set:
                gateway = net.network_address + 1 if net.num_addresses > 2 else None
            elif sn.gateway_ip is None:
                gateway = None
            else:
                gateway = self._ip_in(sp + ("gateway_ip",), sn.gateway_ip, net, "gateway_ip")
            pools = self._pools(sn, net, gateway, sp)
            for k, dns in enumerate(sn.dns_nameservers):
                _ip(ctx, (*sp, "dns_nameservers", k), dns, "DNS nameserver")
            routes = []
            for k, hr in enumerate(sn.host_routes):
                hp = (*sp, "host_routes", k)
                dest = _cidr(ctx, (*hp, "destination"), hr.destination)
                hop = self._ip_in((*hp, "nexthop"), hr.nexthop, net, "nexthop")
                if dest.version != net.version:
                    ctx.fail((*hp, "destination"), f"{dest} is not IPv{net.version}",
                             "use a destination of the subnet's IP version")
                routes.append((str(dest), str(hop)))
            subnet = Subnet(
                id=sub_id, name=sn.name, network_id=network.id, cidr=str(net),
                ip_version=net.version, gateway_ip=str(gateway) if gateway else None,
                enable_dhcp=sn.enable_dhcp,
                allocation_pools=tuple(AllocationPool(str(a), str(b)) for a, b in pools),
                dns_nameservers=tuple(str(ipaddress.ip_address(d)) for d in sn.dns_nameservers),
                host_routes=tuple(routes),
            )
            w = _SubnetW(subnet, net, gateway, pools, sp)
            self.subnets.append(w)
            self.subnet_by_ref[sn.name] = w
            self.subnet_by_ref[sub_id] = w

    def _ip_in(self, path: Path_, text: str, net: Net, what: str) -> IP:
        ip = _ip(self.ctx, path, text, what)
        if ip not in net:
            self.ctx.fail(path, f"{what} {ip} is outside subnet {net}",
                          f"use an address inside {net}")
        if net.version == 4 and net.prefixlen < 31 and ip in (net.network_address,
                                                               net.broadcast_address):
            kind = "network" if ip == net.network_address else "broadcast"
            self.ctx.fail(path, f"{what} {ip} is the {kind} address of {net}",
                          f"use a host address of {net}")
        return ip

    def _pools(self, sn: s.SubnetIn, net: Net, gateway: IP | None,
               sp: Path_) -> list[tuple[IP, IP]]:
        if sn.allocation_pools is None:
            return _generate_pools(net, gateway)
        pools: list[tuple[IP, IP]] = []
        for k, pool in enumerate(sn.allocation_pools):
            pp = (*sp, "allocation_pools", k)
            start = self._ip_in((*pp, "start"), pool.start, net, "pool start")
            end = self._ip_in((*pp, "end"), pool.end, net, "pool end")
            if int(end) < int(start):
                self.ctx.fail(pp, f"allocation pool {start}-{end} ends before it starts",
                              "swap start and end")
            if gateway is not None and int(start) <= int(gateway) <= int(end):
                self.ctx.fail(pp, f"allocation pool {start}-{end} contains the gateway_ip "
                              f"{gateway}", "start the pool after the gateway or end it before")
            for a, b in pools:
                if int(start) <= int(b) and int(a) <= int(end):
                    self.ctx.fail(pp, f"allocation pool {start}-{end} overlaps {a}-{b}",
                                  "use non-overlapping pools")
            pools.append((start, end))
        return pools

    # -- local VLAN pins --
    def local_vlans(self, h: s.HostIn, i: int) -> tuple[tuple[str, int], ...]:
        ctx = self.ctx
        pins: list[tuple[str, int]] = []
        by_vlan: dict[int, str] = {}
        for net_ref, vlan in h.local_vlans.items():
            lp: Path_ = ("hosts", i, "local_vlans", net_ref)
            net = self._ref(lp, self.net_by_ref, net_ref, "network",
                            [n.name for n in self.networks])
            _in_range(ctx, lp, vlan, 1, MAX_VLAN, "local VLAN",
                      f"pin a local VLAN between 1 and {MAX_VLAN}")
            if any(nid == net.id for nid, _ in pins):
                ctx.fail(lp, f"network {net.name} is pinned twice on host {h.name}",
                         "pin each network once")
            if vlan in by_vlan:
                ctx.fail(lp, f"local VLAN {vlan} is pinned to both {by_vlan[vlan]} and "
                         f"{net.name} on host {h.name}",
                         "give each network its own local VLAN on a host")
            by_vlan[vlan] = net.name
            pins.append((net.id, vlan))
        return tuple(pins)

    # -- addresses --
    def _claim(self, port: _PortW, path: Path_, ip: IP, sub: _SubnetW) -> None:
        used = self.used_ips[port.network_id]
        if ip in used:
            self.ctx.fail(path, f"IP {ip} is already used by {used[ip]} on network "
                          f"{self.net_by_ref[port.network_id].name}",
                          "give each port its own address, or leave ip out to allocate one")
        used[ip] = _owner(port)
        port.ips.append((sub.subnet.id, ip))

    def _explicit_ips(self, port: _PortW, path: Path_, ips: Sequence[str],
                      subnet: _SubnetW | None) -> None:
        network = self.net_by_ref[port.network_id]
        candidates = [w for w in self.subnets if w.subnet.network_id == network.id]
        for k, text in enumerate(ips):
            ip_path = (*path, k) if len(ips) > 1 else path
            ip = _ip(self.ctx, ip_path, text)
            inside = [w for w in candidates if ip in w.net]
            if subnet is not None and subnet not in inside:
                self.ctx.fail(ip_path, f"IP {ip} is outside subnet {subnet.subnet.name} "
                              f"({subnet.net})", f"use an address inside {subnet.net}")
            if not inside:
                cidrs = ", ".join(str(w.net) for w in candidates) or "none"
                self.ctx.fail(ip_path, f"IP {ip} is outside the subnets of network "
                              f"{network.name} ({cidrs})", "use an address inside one of them")
            sub = subnet or inside[0]
            self._ip_in(ip_path, text, sub.net, "IP")
            self._claim(port, ip_path, ip, sub)

    def _allocate(self, port: _PortW) -> None:
        """The first free address of each subnet in ``port.allocate_from``. Allocation starts
        after every given address is claimed and nothing is freed, so the first free address only
        moves up: a cursor per subnet keeps big clouds linear."""
        for sub_id in port.allocate_from:
            sub = self.subnet_by_ref[sub_id]
            used = self.used_ips[port.network_id]
            make = type(sub.net.network_address)
            found = None
            pool_index, value = self._cursor.get(sub_id, (0, None))
            while pool_index < len(sub.pools):
                start, end = sub.pools[pool_index]
                value = int(start) if value is None else value
                while value <= int(end):
                    candidate = make(value)
                    if candidate not in used:
                        found = candidate
                        break
                    value += 1
                if found is not None:
                    break
                pool_index, value = pool_index + 1, None
            self._cursor[sub_id] = (pool_index, value)
            if found is None:
                self.ctx.fail(port.path, f"no free address left in the allocation pools of "
                              f"subnet {sub.subnet.name}",
                              "widen the allocation_pools or give the port an ip")
            self._claim(port, port.path, found, sub)
        port.allocate_from = []

    # -- ports --
    def _new_port(self, *, path: Path_, id_path: Path_, given_id: str | None, seed: str,
                  name: str, network: Network, mac: str | None, mac_path: Path_, owner: str,
                  device_id: str | None, host: str) -> _PortW:
        port_id = self._id(id_path, given_id, seed)
        port = _PortW(
            id=port_id, name=name, network_id=network.id,
            mac=_mac(self.ctx, mac_path, mac) if mac is not None else None,
            device_owner=owner, device_id=device_id if device_id is not None else port_id,
            host=host, path=path,
        )
        self.ports.append(port)
        return port

    def vms_pass(self) -> list[Vm]:
        ctx = self.ctx
        _unique(ctx, ((("vms", i, "name"), v.name) for i, v in enumerate(self.c.vms)), "VM name")
        vms = []
        for i, v in enumerate(self.c.vms):
            p: Path_ = ("vms", i)
            host = self._ref((*p, "host"), self.hosts, v.host, "host", list(self.hosts))
            if ROLE_COMPUTE not in host.roles:
                ctx.fail((*p, "host"), f"host {host.name} has no role compute (nova-compute), "
                         "so it cannot run VMs", f"add compute to host {host.name}'s roles or "
                         "place the VM on a compute host")
            port_ids = []
            for j, vp in enumerate(v.ports):
                pp: Path_ = (*p, "ports", j)
                network = self._ref((*pp, "network"), self.net_by_ref, vp.network, "network",
                                    [n.name for n in self.networks])
                port = self._new_port(
                    path=pp, id_path=(*pp, "id"), given_id=vp.id, seed=f"port/vm/{v.name}/{j}",
                    name=vp.name, network=network, mac=vp.mac, mac_path=(*pp, "mac"),
                    owner=DEVICE_OWNER_COMPUTE, device_id=v.name, host=v.host,
                )
                subnet = None
                if vp.subnet is not None:
                    subnet = self._subnet_of(
                        (*pp, "subnet"), vp.subnet, network)
                if vp.ip:
                    self._explicit_ips(port, (*pp, "ip"), vp.ip, subnet)
                else:
                    choices = [subnet] if subnet else [
                        w for w in self.subnets if w.subnet.network_id == network.id]
                    if not choices:
                        ctx.fail((*pp, "network"), f"network {network.name} has no subnet, so "
                                 "the port gets no address", "add a subnet to the network")
                    port.allocate_from = _one_per_family(choices)
                port.port_security_enabled = vp.port_security_enabled
                if vp.security_groups is not None and vp.security_groups and \
                        not vp.port_security_enabled:
                    ctx.fail((*pp, "security_groups"), "a port with port_security_enabled: false "
                             "cannot have security groups (Neutron refuses it)",
                             "remove security_groups or enable port security")
                if vp.port_security_enabled:
                    refs = ["default"] if vp.security_groups is None else vp.security_groups
                    sgs = []
                    for k, ref in enumerate(refs):
                        if ref == "default" and "default" not in self.sg_by_ref:
                            sgs.append(self._default_sg_id())
                            continue
                        g = self._ref((*pp, "security_groups", k), self.sg_by_ref, ref,
                                      "security group", [*self.sg_ids, "default"])
                        sgs.append(self.sg_ids[g.name])
                    port.security_groups = tuple(dict.fromkeys(sgs))
                for k, pair in enumerate(vp.allowed_address_pairs):
                    ap: Path_ = (*pp, "allowed_address_pairs", k)
                    text = pair.ip_address
                    if "/" in text:
                        _cidr(ctx, (*ap, "ip_address"), text)
                    else:
                        _ip(ctx, (*ap, "ip_address"), text)
                    mac = _mac(ctx, (*ap, "mac_address"), pair.mac_address) \
                        if pair.mac_address is not None else None
                    port.pairs.append((text, mac))
                if vp.allowed_address_pairs and not vp.port_security_enabled:
                    ctx.fail((*pp, "allowed_address_pairs"), "allowed_address_pairs need port "
                             "security", "enable port security or remove the pairs")
                port_ids.append(port.id)
            vms.append(Vm(name=v.name, host=v.host, port_ids=tuple(port_ids)))
        return vms

    def _default_sg_id(self) -> str:
        if "default" not in self.sg_ids:
            self.sg_ids["default"] = addr.stable_uuid(f"{self.name}/security_group/default")
        return self.sg_ids["default"]

    def _subnet_of(self, path: Path_, ref: str, network: Network | None) -> _SubnetW:
        known = [w.subnet.name for w in self.subnets
                 if network is None or w.subnet.network_id == network.id]
        sub = self._ref(path, self.subnet_by_ref, ref, "subnet", known)
        if network is not None and sub.subnet.network_id != network.id:
            self.ctx.fail(path, f"subnet {sub.subnet.name} is not on network {network.name}",
                          f"use one of: {', '.join(known) or 'none'}")
        return sub

    def network_hosts(self) -> list[str]:
        return [h.name for h in self.c.hosts if ROLE_NETWORK in h.roles]

    def dhcp_pass(self) -> list[_PortW]:
        ctx = self.ctx
        created = []
        for i, n in enumerate(self.c.networks):
            p: Path_ = ("networks", i)
            network = self.net_by_ref[n.name]
            dhcp_subnets = [w for w in self.subnets
                            if w.subnet.network_id == network.id and w.subnet.enable_dhcp]
            if not dhcp_subnets:
                if n.dhcp_ports:
                    ctx.fail((*p, "dhcp_ports"), f"network {n.name} has no subnet with "
                             "enable_dhcp, so it has no DHCP port",
                             "remove dhcp_ports or enable DHCP on a subnet")
                continue
            hosts = self.network_hosts()
            if not hosts:
                ctx.fail(p, f"network {n.name} has a DHCP-enabled subnet but no host has role "
                         "network (the DHCP agent)",
                         "add network to a host's roles, or set enable_dhcp: false")
            pins: dict[str, tuple[int, s.DhcpPortIn]] = {}
            for k, pin in enumerate(n.dhcp_ports):
                kp: Path_ = (*p, "dhcp_ports", k, "host")
                self._ref(kp, self.hosts, pin.host, "host", list(self.hosts))
                if pin.host not in hosts:
                    ctx.fail(kp, f"host {pin.host} has no role network, so no DHCP agent",
                             f"use one of: {', '.join(hosts)}")
                if pin.host in pins:
                    ctx.fail(kp, f"two DHCP ports pinned on host {pin.host}",
                             "pin one DHCP port per host")
                pins[pin.host] = (k, pin)
            for host in hosts:
                k, pin = pins.get(host, (-1, s.DhcpPortIn(host=host)))
                pp: Path_ = (*p, "dhcp_ports", k) if k >= 0 else p
                port = self._new_port(
                    path=pp, id_path=(*pp, "id"), given_id=pin.id,
                    seed=f"port/dhcp/{network.id}/{host}", name="", network=network,
                    mac=pin.mac, mac_path=(*pp, "mac"), owner=DEVICE_OWNER_DHCP,
                    device_id=dhcp_device_id(network.id, host), host=host,
                )
                port.security_groups = ()
                if pin.ip:
                    self._explicit_ips(port, (*pp, "ip"), pin.ip, None)
                else:
                    port.allocate_from = [w.subnet.id for w in dhcp_subnets]
                created.append(port)
        return created

    def routers_pass(self) -> tuple[list[Router], list[_PortW]]:
        ctx = self.ctx
        _unique(ctx, ((("routers", i, "name"), r.name) for i, r in enumerate(self.c.routers)),
                "router name")
        routers: list[Router] = []
        gateways: list[_PortW] = []
        for i, r in enumerate(self.c.routers):
            p: Path_ = ("routers", i)
            router_id = self._id((*p, "id"), r.id, f"router/{r.name}")
            if r.host is None:
                hosts = self.network_hosts()
                if not hosts:
                    ctx.fail(p, f"router {r.name} needs a host with role network (the L3 agent)",
                             "add network to a host's roles")
                host = hosts[0]
            else:
                h = self._ref((*p, "host"), self.hosts, r.host, "host", list(self.hosts))
                if ROLE_NETWORK not in h.roles:
                    ctx.fail((*p, "host"), f"host {h.name} has no role network (no L3 agent)",
                             f"add network to host {h.name}'s roles or use one of: "
                             f"{', '.join(self.network_hosts()) or 'none'}")
                host = h.name
            interface_ids = []
            seen_subnets: dict[str, int] = {}
            for j, itf in enumerate(r.interfaces):
                ip_: Path_ = (*p, "interfaces", j)
                sub = self._subnet_of((*ip_, "subnet"), itf.subnet, None)
                if sub.subnet.id in seen_subnets:
                    ctx.fail((*ip_, "subnet"), f"router {r.name} already has an interface on "
                             f"subnet {sub.subnet.name}", "attach each subnet once")
                seen_subnets[sub.subnet.id] = j
                network = self.net_by_ref[sub.subnet.network_id]
                port = self._new_port(
                    path=ip_, id_path=(*ip_, "port_id"), given_id=itf.port_id,
                    seed=f"port/router/{router_id}/{sub.subnet.id}", name="", network=network,
                    mac=itf.mac, mac_path=(*ip_, "mac"), owner=DEVICE_OWNER_ROUTER_INTF,
                    device_id=router_id, host=host,
                )
                if itf.ip is not None:
                    self._explicit_ips(port, (*ip_, "ip"), [itf.ip], sub)
                elif sub.gateway is None:
                    ctx.fail((*ip_, "subnet"), f"subnet {sub.subnet.name} has no gateway_ip for "
                             "the router interface", "give the interface an ip or the subnet "
                             "a gateway_ip")
                else:
                    self._claim(port, (*ip_, "subnet"), sub.gateway, sub)
                interface_ids.append(port.id)
            gw_net = r.external_gateway.network if r.external_gateway else None
            for j, itf in enumerate(r.interfaces):
                sub = self.subnet_by_ref[itf.subnet]
                if gw_net is not None and self.net_by_ref.get(gw_net) is not None and \
                        sub.subnet.network_id == self.net_by_ref[gw_net].id:
                    ctx.fail((*p, "interfaces", j, "subnet"), f"subnet {sub.subnet.name} is on "
                             f"network {gw_net}, the router's external gateway network",
                             "attach the router to that network once: as its gateway")
            gateway = None
            if r.external_gateway is not None:
                g = r.external_gateway
                gp: Path_ = (*p, "external_gateway")
                network = self._ref((*gp, "network"), self.net_by_ref, g.network, "network",
                                    [n.name for n in self.networks])
                if not network.router_external:
                    ctx.fail((*gp, "network"), f"network {network.name} is not an external "
                             "network (router:external)", f"set router_external: true on "
                             f"{network.name} or use an external network")
                port = self._new_port(
                    path=gp, id_path=(*gp, "port_id"), given_id=g.port_id,
                    seed=f"port/router_gateway/{router_id}", name="", network=network,
                    mac=g.mac, mac_path=(*gp, "mac"), owner=DEVICE_OWNER_ROUTER_GW,
                    device_id=router_id, host=host,
                )
                if g.ip is not None:
                    self._explicit_ips(port, (*gp, "ip"), [g.ip], None)
                else:
                    subs = [w for w in self.subnets if w.subnet.network_id == network.id]
                    if not subs:
                        ctx.fail((*gp, "network"), f"external network {network.name} has no "
                                 "subnet", "add a subnet to it")
                    port.allocate_from = _one_per_family(subs)
                gateways.append(port)
                gateway = ExternalGateway(network.id, port.id, g.enable_snat)
            routes = []
            for k, rt in enumerate(r.routes):
                rp: Path_ = (*p, "routes", k)
                dest = _cidr(ctx, (*rp, "destination"), rt.destination)
                hop = _ip(ctx, (*rp, "nexthop"), rt.nexthop, "nexthop")
                connected = [w for w in self.subnets if w.subnet.id in seen_subnets
                             or (gateway is not None and w.subnet.network_id == gateway.network_id)]
                if not any(hop in w.net for w in connected):
                    ctx.fail((*rp, "nexthop"), f"nexthop {hop} is not on a subnet connected to "
                             f"router {r.name}", "use an address of one of the router's subnets")
                routes.append((str(dest), str(hop)))
            routers.append(Router(
                id=router_id, name=r.name, host=host, external_gateway=gateway,
                interface_port_ids=tuple(interface_ids), routes=tuple(routes),
            ))
        return routers, gateways

    def fips_pass(self) -> list[_FipW]:
        """Floating IPs, first stage (before allocation): the port, the floating network and
        the floating IP's own port with its given address claimed."""
        ctx = self.ctx
        if not self.c.floating_ips:
            return []
        by_vm: dict[str, list[_PortW]] = {}
        for pw in self.ports:
            if pw.device_owner == DEVICE_OWNER_COMPUTE:
                by_vm.setdefault(pw.device_id, []).append(pw)
        vm_ports: dict[str, _PortW] = {}
        for v in self.c.vms:
            for j, pw in enumerate(by_vm.get(v.name, [])):
                vm_ports[f"{v.name}:{j}"] = pw
                vm_ports.setdefault(v.name, pw)
        for pw in self.ports:
            if pw.device_owner == DEVICE_OWNER_COMPUTE:
                vm_ports[pw.id] = pw
        out: list[_FipW] = []
        externals = [n for n in self.networks if n.router_external]
        for i, f in enumerate(self.c.floating_ips):
            p: Path_ = ("floating_ips", i)
            if f.port not in vm_ports:
                others = [pw for pw in self.ports if pw.id == f.port]
                if others:
                    ctx.fail((*p, "port"), f"port {f.port} has device_owner "
                             f"{others[0].device_owner} and cannot have a floating IP",
                             "associate the floating IP with a VM port")
                names = [k for k in vm_ports if ":" in k]
                ctx.fail((*p, "port"), f"unknown port {f.port!r}",
                         f"use a VM port as '<vm>:<index>' (one of: {', '.join(names) or 'none'})"
                         " or a VM port's id")
            port = vm_ports[f.port]
            # the floating network
            fnet: Network | None = None
            if f.floating_network is not None:
                fnet = self._ref((*p, "floating_network"), self.net_by_ref, f.floating_network,
                                 "network", [n.name for n in self.networks])
            address = None
            if f.floating_ip_address is not None:
                address = _ip(ctx, (*p, "floating_ip_address"), f.floating_ip_address)
                if fnet is None:
                    holders = [self.net_by_ref[w.subnet.network_id] for w in self.subnets
                               if address in w.net]
                    ext = [n for n in holders if n.router_external]
                    if not ext:
                        if holders:
                            fnet = holders[0]
                        else:
                            ctx.fail((*p, "floating_ip_address"), f"floating IP {address} is "
                                     "outside the subnets of every external network",
                                     "use an address of an external network's subnet")
                    else:
                        fnet = ext[0]
            if fnet is None:
                if len(externals) != 1:
                    ctx.fail(p, f"there are {len(externals)} external networks, so the floating "
                             "network is ambiguous", "add floating_network: <an external "
                             "network>")
                fnet = externals[0]
            if not fnet.router_external:
                ctx.fail((*p, "floating_network") if f.floating_network else
                         (*p, "floating_ip_address"),
                         f"floating IP on network {fnet.name}, which is not an external network "
                         "(router:external)",
                         f"set router_external: true on {fnet.name} or use an external network")
            fip_id = self._id((*p, "id"), f.id, f"floating_ip/{i}/{f.port}")
            fport = self._new_port(
                path=p, id_path=(*p, "port_id"), given_id=f.port_id,
                seed=f"port/floatingip/{fip_id}", name="", network=fnet, mac=f.port_mac,
                mac_path=(*p, "port_mac"), owner=DEVICE_OWNER_FLOATINGIP, device_id=fip_id,
                host="",
            )
            if address is not None:
                self._explicit_ips(fport, (*p, "floating_ip_address"), [str(address)], None)
            else:
                subs = [w for w in self.subnets if w.subnet.network_id == fnet.id]
                v4 = [w for w in subs if w.net.version == 4]
                if not v4:
                    ctx.fail(p, f"external network {fnet.name} has no IPv4 subnet",
                             "add an IPv4 subnet to it")
                fport.allocate_from = [v4[0].subnet.id]
            out.append(_FipW(f, p, port, fnet, fip_id, fport))
        return out

    def fips_finish(self, routers: list[Router], pending: list[_FipW]) -> list[FloatingIp]:
        """Floating IPs, second stage (after the ports' addresses are allocated): the floating
        address, the fixed address and the router."""
        ctx = self.ctx
        out: list[FloatingIp] = []
        seen_fixed: dict[tuple[str, str], Path_] = {}
        for w in pending:
            f, p, port, fnet, fport = w.fip, w.path, w.port, w.fnet, w.fport
            self._allocate(fport)
            port_v4 = [(sid, ip) for sid, ip in port.ips if ip.version == 4]
            if f.fixed_ip_address is not None:
                fixed = _ip(ctx, (*p, "fixed_ip_address"), f.fixed_ip_address)
                match = [(sid, ip) for sid, ip in port.ips if ip == fixed]
                if not match:
                    ctx.fail((*p, "fixed_ip_address"), f"{fixed} is not an address of port "
                             f"{f.port}", "use one of the port's addresses: "
                             + ", ".join(str(ip) for _, ip in port.ips))
                fixed_sub, fixed_ip = match[0]
            else:
                if not port_v4:
                    ctx.fail((*p, "port"), f"port {f.port} has no IPv4 address",
                             "floating IPs need an IPv4 fixed address")
                fixed_sub, fixed_ip = port_v4[0]
            key = (port.id, str(fixed_ip))
            if key in seen_fixed:
                ctx.fail((*p, "port"), f"{fixed_ip} of port {f.port} already has a floating IP "
                         f"({where(seen_fixed[key])})", "give each fixed address one floating IP")
            seen_fixed[key] = p
            # the router: an interface on the fixed IP's subnet and the gateway on fnet
            candidates = [
                r for r in routers
                if r.external_gateway is not None and r.external_gateway.network_id == fnet.id
                and any(self._port_w(pid).ips and self._port_w(pid).ips[0][0] == fixed_sub
                        for pid in r.interface_port_ids)
            ]
            if f.router is not None:
                wanted = [r for r in routers if f.router in (r.name, r.id)]
                if not wanted:
                    ctx.fail((*p, "router"), f"unknown router {f.router!r}",
                             f"use one of: {', '.join(r.name for r in routers) or 'none'}")
                if wanted[0] not in candidates:
                    ctx.fail((*p, "router"), f"router {wanted[0].name} does not connect subnet "
                             f"{self.subnet_by_ref[fixed_sub].subnet.name} to network "
                             f"{fnet.name}", "use a router with an interface on the port's "
                             "subnet and its gateway on the floating network")
                candidates = wanted
            if not candidates:
                ctx.fail(p, f"no router connects subnet {self.subnet_by_ref[fixed_sub].subnet.name}"
                         f" (of {fixed_ip}) to external network {fnet.name}",
                         f"add a router with external_gateway on {fnet.name} and an interface "
                         f"on subnet {self.subnet_by_ref[fixed_sub].subnet.name}")
            out.append(FloatingIp(
                id=w.fip_id, floating_ip_address=str(fport.ips[0][1]),
                floating_network_id=fnet.id, port_id=port.id, fixed_ip_address=str(fixed_ip),
                router_id=candidates[0].id,
            ))
        return out

    def _port_w(self, port_id: str) -> _PortW:
        return next(pw for pw in self.ports if pw.id == port_id)

    # -- security groups --
    def security_groups(self, used: set[str]) -> list[SecurityGroup]:
        groups: list[SecurityGroup] = []
        user = {g.name for g in self.c.security_groups}
        if "default" not in user and self.sg_ids.get("default") in used:
            sg_id = self.sg_ids["default"]
            rules = [
                ("ingress", "IPv4", sg_id), ("ingress", "IPv6", sg_id),
                ("egress", "IPv4", None), ("egress", "IPv6", None),
            ]
            groups.append(SecurityGroup(sg_id, "default", tuple(
                SecurityGroupRule(
                    id=addr.stable_uuid(f"{self.name}/security_group/default/rule/{k}"),
                    direction=d, ethertype=e, remote_group_id=rg)
                for k, (d, e, rg) in enumerate(rules))))
        for i, g in enumerate(self.c.security_groups):
            groups.append(self._group(i, g))
        return groups

    def _group(self, i: int, g: s.SecurityGroupIn) -> SecurityGroup:
        ctx = self.ctx
        sg_id = self.sg_ids[g.name]
        rules: list[SecurityGroupRule] = []
        if g.default_egress:
            for k, eth in enumerate(("IPv4", "IPv6")):
                rules.append(SecurityGroupRule(
                    id=addr.stable_uuid(f"{self.name}/security_group/{sg_id}/egress/{k}"),
                    direction="egress", ethertype=eth))
        for k, r in enumerate(g.rules):
            rp: Path_ = ("security_groups", i, "rules", k)
            rule_id = self._id((*rp, "id"), r.id, f"security_group/{sg_id}/rule/{k}")
            proto = self._protocol(rp, r.protocol)
            low, high = r.port_range_min, r.port_range_max
            if (low is not None or high is not None):
                if proto in _PORT_PROTOCOLS:
                    limit, what = 65535, "port"
                    if low is None or high is None:
                        ctx.fail(rp, "port_range_min and port_range_max go together",
                                 "give both (equal for a single port)")
                    _in_range(ctx, (*rp, "port_range_min"), low, 1, limit, what,
                              "use ports between 1 and 65535")
                    _in_range(ctx, (*rp, "port_range_max"), high, 1, limit, what,
                              "use ports between 1 and 65535")
                    if high < low:
                        ctx.fail((*rp, "port_range_max"), f"port_range_max {high} is below "
                                 f"port_range_min {low}", "swap them")
                elif proto in _ICMP_PROTOCOLS:
                    if low is not None:
                        _in_range(ctx, (*rp, "port_range_min"), low, 0, 255, "ICMP type",
                                  "use an ICMP type between 0 and 255")
                    if high is not None:
                        _in_range(ctx, (*rp, "port_range_max"), high, 0, 255, "ICMP code",
                                  "use an ICMP code between 0 and 255")
                else:
                    ctx.fail((*rp, "port_range_min"), f"protocol {proto or 'any'} has no ports",
                             "set protocol: tcp/udp (or icmp for type/code), or remove the range")
            prefix = None
            if r.remote_ip_prefix is not None:
                net = _cidr(ctx, (*rp, "remote_ip_prefix"), r.remote_ip_prefix)
                if f"IPv{net.version}" != r.ethertype:
                    ctx.fail((*rp, "remote_ip_prefix"), f"{net} is IPv{net.version} but the rule "
                             f"is {r.ethertype}", f"set ethertype: IPv{net.version}")
                prefix = str(net)
            remote = None
            if r.remote_group is not None:
                if prefix is not None:
                    ctx.fail((*rp, "remote_group"), "a rule takes remote_ip_prefix or "
                             "remote_group, not both", "keep one of them")
                if r.remote_group == "default" and "default" not in self.sg_by_ref:
                    remote = self._default_sg_id()
                else:
                    rg = self._ref((*rp, "remote_group"), self.sg_by_ref, r.remote_group,
                                   "security group", [*self.sg_ids])
                    remote = self.sg_ids[rg.name]
            rules.append(SecurityGroupRule(
                id=rule_id, direction=r.direction, ethertype=r.ethertype, protocol=proto,
                port_range_min=low, port_range_max=high, remote_ip_prefix=prefix,
                remote_group_id=remote))
        return SecurityGroup(sg_id, g.name, tuple(rules))

    def _protocol(self, rp: Path_, value: str | int | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, int):
            _in_range(self.ctx, (*rp, "protocol"), value, 0, 255, "IP protocol number",
                      "use 0..255 or a name like tcp")
            return str(value)
        text = value.lower()
        if text == "any":
            return None
        if text.isdigit():
            return self._protocol(rp, int(text))
        if text not in _PROTOCOLS:
            self.ctx.fail((*rp, "protocol"), f"unknown protocol {value!r}",
                          f"use one of: {', '.join(_PROTOCOLS)}, any, or a number 0..255")
        return text

    # -- outside --
    def outside_pass(self, nic_segments: list[tuple[str, str]]) -> list[OutsideHost]:
        ctx = self.ctx
        _unique(ctx, ((("outside", i, "name"), o.name) for i, o in enumerate(self.c.outside)),
                "outside host name")
        _unique(ctx, ((("outside", i, "ip"), o.ip) for i, o in enumerate(self.c.outside)),
                "outside IP")
        segments = list(dict.fromkeys(seg for seg, _ in nic_segments))
        by_name = {o.name: o for o in self.c.outside}
        out = []
        macs: dict[str, Path_] = {}
        for i, o in enumerate(self.c.outside):
            p: Path_ = ("outside", i)
            ip = _ip(ctx, (*p, "ip"), o.ip)
            if (o.segment is None) == (o.via is None):
                ctx.fail(p, f"outside host {o.name} needs exactly one of segment (it sits on a "
                         "physical segment) or via (it sits behind a gateway)",
                         "give segment: <a NIC's segment> or via: <an outside gateway>")
            if o.segment is not None and o.segment not in segments:
                ctx.fail((*p, "segment"), f"unknown segment {o.segment!r} (no host NIC plugs "
                         "into it)", f"use one of: {', '.join(segments) or 'none'}")
            if o.via is not None:
                gw = self._ref((*p, "via"), by_name, o.via, "outside host",
                               [x.name for x in self.c.outside if x.segment is not None])
                if gw.segment is None:
                    ctx.fail((*p, "via"), f"outside host {gw.name} is not on a segment, so it "
                             "cannot be a gateway", "use an outside host that has a segment")
            mac = _mac(ctx, (*p, "mac"), o.mac) if o.mac is not None else addr.stable_mac(
                f"{self.name}/outside/{o.name}", OUTSIDE_BASE_MAC)
            if mac in macs:
                ctx.fail((*p, "mac"), f"duplicate MAC {mac} (also at {where(macs[mac])})",
                         "give each outside host its own MAC")
            macs[mac] = (*p, "mac")
            prefixlen = o.prefixlen
            if prefixlen is None:
                holders = [w.net for w in self.subnets if ip in w.net and o.segment is not None
                           and self._on_segment(w.subnet.network_id, o.segment, nic_segments)]
                prefixlen = holders[0].prefixlen if holders else (24 if ip.version == 4 else 64)
            _in_range(ctx, (*p, "prefixlen"), prefixlen, 0, 32 if ip.version == 4 else 128,
                      "prefixlen", "use a prefix length of the address family")
            vlan = o.vlan
            if vlan is None and o.segment is not None:
                # on a VLAN provider network's segment it talks on that network's VLAN
                tagged = [self.net_by_ref[w.subnet.network_id] for w in self.subnets
                          if ip in w.net and self._on_segment(w.subnet.network_id, o.segment,
                                                                nic_segments)]
                vlan = next((n.segmentation_id for n in tagged
                             if n.network_type == "vlan"), None)
            if vlan is not None:
                _in_range(ctx, (*p, "vlan"), vlan, 1, 4094, "vlan",
                          "use a VLAN id from 1 to 4094")
                if o.segment is None:
                    ctx.fail((*p, "vlan"), "only an outside host on a segment has a VLAN",
                             "remove vlan, or give the host a segment")
            if o.gateway is not None:
                gw_ip = _ip(ctx, (*p, "gateway"), o.gateway, "gateway")
                link = ipaddress.ip_interface(f"{ip}/{prefixlen}").network
                if o.segment is None:
                    ctx.fail((*p, "gateway"), f"outside host {o.name} sits behind {o.via}, "
                             "which is its way out: it takes no gateway", "remove gateway")
                if gw_ip not in link or gw_ip == ip:
                    ctx.fail((*p, "gateway"), f"gateway {gw_ip} is not another address of "
                             f"{o.name}'s link {link}", f"use an address in {link}, or set "
                             "prefixlen")
            if o.segment is not None:
                for network in self.networks:
                    if self._on_segment(network.id, o.segment, nic_segments) and \
                            ip in self.used_ips[network.id]:
                        ctx.fail((*p, "ip"), f"IP {ip} is already used by "
                                 f"{self.used_ips[network.id][ip]} on network {network.name}, "
                                 f"which is on segment {o.segment}", "use another address")
            out.append(OutsideHost(
                name=o.name, ip=str(ip), mac=mac, segment=o.segment, prefixlen=prefixlen,
                via=o.via, gateway=str(ipaddress.ip_address(o.gateway)) if o.gateway else None,
                vlan=vlan))
        return out

    def _on_segment(self, network_id: str, segment: str,
                    nic_segments: list[tuple[str, str]]) -> bool:
        network = self.net_by_ref[network_id]
        return network.physical_network is not None and \
            (segment, network.physical_network) in nic_segments

    # -- per host: what the bound ports need --
    def check_bindings(self) -> None:
        ctx = self.ctx
        for port in self.ports:
            if not port.host:
                continue
            host = self.hosts[port.host]
            network = self.net_by_ref[port.network_id]
            if network.physical_network is not None and \
                    network.physical_network not in host.bridge_mappings:
                mapped = ", ".join(f"{k}: {v}" for k, v in host.bridge_mappings.items())
                ctx.fail(port.path, f"host {host.name} has {_owner(port, False)} on "
                         f"{network.network_type} network {network.name}, but no bridge mapping "
                         "for its "
                         f"physical_network {network.physical_network!r} (bridge_mappings: "
                         f"{{{mapped}}})",
                         f"add '{network.physical_network}: <bridge>' to host {host.name}'s "
                         "bridge_mappings (and a physical_nics entry on that bridge)")
            if network.network_type in TUNNEL_TYPES:
                types = _tunnel_types(host)
                if host.tunnel_ip is None or network.network_type not in types:
                    ctx.fail(port.path, f"host {host.name} has {_owner(port, False)} on "
                             f"{network.network_type} network {network.name}, but "
                             + ("no tunnel_ip" if host.tunnel_ip is None else
                                f"its tunnel_types {list(types)} lack {network.network_type}"),
                             f"give host {host.name} a tunnel_ip and "
                             f"{network.network_type} in tunnel_types")

    def finish_port(self, port: _PortW) -> Port:
        mac = port.mac
        used_macs = self.macs.setdefault(port.network_id, {})
        if mac is None:
            k = 0
            while True:
                seed = f"{self.name}/mac/{port.id}" + (f"/{k}" if k else "")
                mac = addr.stable_mac(seed)
                if mac not in used_macs:
                    break
                k += 1
        elif mac in used_macs:
            self.ctx.fail(_mac_path(port),
                          f"duplicate MAC {mac} on network "
                          f"{self.net_by_ref[port.network_id].name} (also {used_macs[mac]})",
                          "give each port its own MAC, or leave mac out to generate one")
        used_macs[mac] = _owner(port)
        return Port(
            id=port.id, name=port.name, network_id=port.network_id, mac_address=mac,
            fixed_ips=tuple(FixedIp(sid, str(ip)) for sid, ip in port.ips),
            device_owner=port.device_owner, device_id=port.device_id,
            binding_host_id=port.host, security_groups=port.security_groups,
            port_security_enabled=port.port_security_enabled,
            allowed_address_pairs=tuple(AllowedAddressPair(ip, m or mac) for ip, m in port.pairs),
        )

    macs: dict[str, dict[str, str]]

    def run(self) -> Cloud:
        self.macs = {}
        nic_segments = self.hosts_pass()
        self.sg_names_pass()
        self.networks_pass()
        hosts = []
        for i, h in enumerate(self.c.hosts):
            hosts.append(Host(
                name=h.name, management_ip=str(ipaddress.ip_address(h.management_ip)),
                tunnel_ip=str(ipaddress.ip_address(h.tunnel_ip)) if h.tunnel_ip else None,
                roles=tuple(dict.fromkeys(h.roles)),
                bridge_mappings=tuple(h.bridge_mappings.items()),
                physical_nics=tuple(PhysicalNic(n.name, n.bridge, n.segment)
                                    for n in h.physical_nics),
                tunnel_types=_tunnel_types(h), l2_population=h.l2_population,
                arp_responder=h.arp_responder, firewall_driver=h.firewall_driver,
                local_vlans=self.local_vlans(h, i), tunnel_nic=h.tunnel_nic,
            ))
        vms = self.vms_pass()
        vm_ports = [pw for pw in self.ports if pw.device_owner == DEVICE_OWNER_COMPUTE]
        dhcp_ports = self.dhcp_pass()
        routers, gateways = self.routers_pass()
        pending_fips = self.fips_pass()
        for pw in dhcp_ports + gateways + vm_ports:
            self._allocate(pw)
        floating_ips = self.fips_finish(routers, pending_fips)
        self.check_bindings()
        self._check_short_ids()
        # ports in a stable order: VM ports, DHCP ports, router ports, floating IP ports
        order = {DEVICE_OWNER_COMPUTE: 0, DEVICE_OWNER_DHCP: 1, DEVICE_OWNER_ROUTER_INTF: 2,
                 DEVICE_OWNER_ROUTER_GW: 2, DEVICE_OWNER_FLOATINGIP: 3}
        indexed = sorted(enumerate(self.ports), key=lambda t: (order[t[1].device_owner], t[0]))
        ports = [self.finish_port(pw) for _, pw in indexed]
        used_sgs = {sg for pw in self.ports for sg in pw.security_groups}
        groups = self.security_groups(used_sgs)
        outside = self.outside_pass(nic_segments)
        segments = list(dict.fromkeys(
            [seg for seg, _ in nic_segments] + [o.segment for o in outside if o.segment]))
        return Cloud(
            name=self.name, hosts=tuple(hosts), networks=tuple(self.networks),
            subnets=tuple(w.subnet for w in self.subnets), ports=tuple(ports), vms=tuple(vms),
            routers=tuple(routers), floating_ips=tuple(floating_ips),
            security_groups=tuple(groups), outside=tuple(outside), segments=tuple(segments),
        )

    def _check_short_ids(self) -> None:
        seen: dict[str, _PortW] = {}
        for pw in self.ports:
            if not pw.host:
                continue
            short = pw.id[:11]
            if short in seen:
                other = seen[short]
                self.ctx.fail(pw.path, f"port {pw.id} and port {other.id} ({where(other.path)}) "
                              f"share the first 11 characters {short}, so their devices "
                              f"(tap{short}, qr-{short}...) would have the same name",
                              "change one of the ids in its first 11 characters")
            seen[short] = pw


def _one_per_family(subnets: Sequence[_SubnetW]) -> list[str]:
    """The subnets a port without a given address gets one from: as Neutron's IPAM for a port
    created without fixed_ips, the first IPv4 subnet and the first IPv6 subnet (if any)."""
    out = []
    for version in (4, 6):
        first = next((w for w in subnets if w.net.version == version), None)
        if first is not None:
            out.append(first.subnet.id)
    return out


def _tunnel_types(h: s.HostIn) -> tuple[str, ...]:
    if h.tunnel_types is not None:
        return tuple(dict.fromkeys(h.tunnel_types))
    return (TYPE_VXLAN,) if h.tunnel_ip is not None else ()


def _mac_path(port: _PortW) -> Path_:
    if port.device_owner == DEVICE_OWNER_FLOATINGIP:
        return (*port.path, "port_mac")
    last = port.path[-1] if port.path else None
    if last in ("external_gateway",) or isinstance(last, int):
        return (*port.path, "mac")
    return port.path


def _owner(port: _PortW, with_path: bool = True) -> str:
    """``a port of VM vm1 (vms[0].ports[0])``, ``the DHCP port (networks[1])``..."""
    place = f" ({where(port.path)})" if with_path else ""
    if port.device_owner == DEVICE_OWNER_COMPUTE:
        return f"a port of VM {port.device_id}{place}"
    kind = {DEVICE_OWNER_DHCP: "the DHCP port", DEVICE_OWNER_ROUTER_INTF: "a router interface",
            DEVICE_OWNER_ROUTER_GW: "a router gateway",
            DEVICE_OWNER_FLOATINGIP: "a floating IP"}[port.device_owner]
    return f"{kind}{place}"


def _segment_text(key: tuple[str, str | None, int | None]) -> str:
    ntype, physnet, seg = key
    parts = [p for p in (physnet, str(seg) if seg is not None else None) if p]
    return "/".join(parts) or ntype


def resolve(cloud: s.CloudIn, source: str, lines: Lines) -> Cloud:
    """Check ``cloud`` and fill in everything Neutron would; raise TopologyError on the first
    problem (nothing is produced then)."""
    return _Resolver(cloud, Ctx(source, lines)).run()
