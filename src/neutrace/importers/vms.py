"""The VMs of captured hosts (layer 3): which tap is whose NIC, and what the VM's stack holds.

A host capture does not hold the VMs' own network stacks; what it holds says enough to rebuild
them as the agents' state models a VM (a namespace of kind ``vm`` whose ``eth0``, ``eth1``... is
the far end of its taps):

- which VM: libvirt's domain XML (``virsh dumpxml``, ``run/libvirt/qemu/*.xml``,
  ``etc/libvirt/qemu/*.xml``): each ``<interface>``'s ``target dev`` is the tap, its ``mac`` the
  NIC's, Nova's metadata the VM's display name and (Nova 23+) each port's fixed IPs. Without
  XML, the OVS ports Nova/os-vif plugged (``external_ids`` ``iface-id``, ``attached-mac``,
  ``vm-uuid``) name the VM after its UUID (``vm-<uuid[:8]>``);
- its addresses (`resolve_addresses`, over every captured host): Nova's metadata, else the DHCP
  agent's host files (``var/lib/neutron/dhcp/<network>/host``: MAC -> IP), else the hybrid
  firewall's anti-spoofing rules (``neutron-openvswi-s<port>``: ``-s IP/32 -m mac --mac-source
  MAC``); the prefix length from the DHCP port's address in ``qdhcp-<network>``, or from a router
  interface on that subnet; the default route via the DHCP options' ``router`` for the subnet,
  else via that router interface; for an IPv6 address, the route the guest's kernel takes from
  router advertisements (``proto ra``) via the captured router interface (``qr-``) or the gateway
  a ``qg-`` on that subnet routes through. Each inference is a note naming its source.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from neutrace.dataplane import (
    LOOPBACK,
    NS_VM,
    VETH,
    Interface,
    Namespace,
    OvsBridge,
    Route,
)
from neutrace.errors import InputError
from neutrace.importers.diagnostics import Findings
from neutrace.importers.layout import Capture
from neutrace.syntax.libvirt import Domain, parse_domain


@dataclass(frozen=True, slots=True)
class VmNic:
    """One NIC of a VM: its tap on the host, MAC, Neutron port (when known), fixed IPs from Nova's
    metadata, MTU."""

    tap: str
    mac: str
    port_id: str | None = None
    ips: tuple[str, ...] = ()
    mtu: int | None = None
    net_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class VmPlan:
    """A VM found on a host, before its addresses are resolved."""

    name: str
    domain: str
    uuid: str
    nics: tuple[VmNic, ...]
    source: str


@dataclass
class DhcpTables:
    """What the DHCP agents' files say, across hosts: MAC -> (IP, subnet tag) per network, and
    per subnet tag the router option and static routes."""

    hosts: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # mac -> [(ip,
    # tag, network)]
    routers: dict[str, str] = field(default_factory=dict)  # subnet tag -> router IP
    routes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # tag -> [(cidr, gw)]
    sources: dict[str, str] = field(default_factory=dict)  # mac -> file


def domains(cap: Capture, found: Findings) -> list[tuple[Domain, str]]:
    """The capture's libvirt domains (the live XML first), with the file each came from."""
    seen: dict[str, tuple[Domain, str]] = {}
    paths = (cap.glob("sos_commands/virsh/virsh_-r_dumpxml_*") + cap.glob("run/libvirt/qemu/*.xml")
             + cap.glob("etc/libvirt/qemu/*.xml"))
    for p in paths:
        where = cap.where(cap.rel(p))
        text = cap.read(p)
        if not text.strip().startswith("<"):
            continue
        try:
            d = parse_domain(text, where)
        except InputError as exc:
            found.warn(where, f"unreadable domain XML: {exc.problem}",
                       "its VM is not modelled from it")
            continue
        seen.setdefault(d.name, (d, where))
    return list(seen.values())


def plans(cap: Capture, found: Findings, bridges: tuple[OvsBridge, ...],
          root_links: set[str], wired: frozenset[str] | set[str] = frozenset()
          ) -> list[VmPlan]:
    """The VMs on the host: from libvirt's XML, else from the ports Nova plugged into OVS;
    none whose taps are ``wired`` to a captured namespace already."""
    ovs_ports = {p.name: p for b in bridges for p in b.ports}
    by_short = {(p.external_id("iface-id") or "")[:11]: p for p in ovs_ports.values()
                if p.external_id("iface-id")}
    out: list[VmPlan] = []
    names: set[str] = set()
    for d, where in domains(cap, found):
        if any(i.target_dev in wired for i in d.interfaces):
            continue
        nics = []
        ports = {p.uuid: p for p in d.nova_ports}
        for i in d.interfaces:
            if not i.target_dev:
                continue
            short = i.target_dev[3:]
            port_id = i.interfaceid
            ovs = by_short.get(short)
            if port_id is None and ovs is not None:
                port_id = ovs.external_id("iface-id")
            if port_id is None:
                port_id = next((u for u in ports if u[:11] == short), None)
            nova = ports.get(port_id or "")
            net = dict(ovs.other_config).get("net_uuid") if ovs is not None else None
            nics.append(VmNic(i.target_dev, i.mac, port_id, nova.ips if nova else (), i.mtu,
                              net))
            if i.target_dev not in root_links:
                found.note(where, f"domain {d.name}'s tap {i.target_dev} is not among the "
                           "host's links", "its NIC is modelled, but not wired to anything")
        name = _unique(d.nova_name or d.name, d.name, names)
        out.append(VmPlan(name, d.name, d.uuid, tuple(nics), where))
    covered = {n.tap for v in out for n in v.nics}
    by_vm: dict[str, list[VmNic]] = {}
    for p in ovs_ports.values():
        vm = p.external_id("vm-uuid")
        mac = p.external_id("attached-mac")
        pid = p.external_id("iface-id")
        if not (vm and mac and pid) or p.type not in ("", "system"):
            continue
        tap = "tap" + p.name[3:] if p.name.startswith("qvo") else p.name
        if tap in covered or tap in wired:
            continue
        by_vm.setdefault(vm, []).append(VmNic(tap, mac.lower(), pid,
                                              net_uuid=dict(p.other_config).get("net_uuid")))
    for vm, nics in sorted(by_vm.items()):
        listing = cap.ovs("ovs-vsctl_-t_5_--format_json_list_Interface",
                          "ovs-vsctl_-t_5_list_interface", "ovs-vsctl_list_interface")
        where = cap.where(cap.rel(listing) if listing is not None else "sos_commands/openvswitch")
        name = _unique(f"vm-{vm[:8]}", vm, names)
        found.note(where, f"no libvirt domain XML for VM {vm}: it is named {name} after its "
                   "UUID (from the OVS ports Nova plugged)",
                   "start points by the VM's own name do not find it; its port id, MAC, IP "
                   "and tap do")
        out.append(VmPlan(name, "", vm, tuple(nics), where))
    return out


def _unique(name: str, alt: str, names: set[str]) -> str:
    if name in names:
        name = f"{name} ({alt})"
    names.add(name)
    return name


# -- addresses ---------------------------------------------------------------------------------

_ANTISPOOF = re.compile(r"^-A neutron-openvswi-s(?P<port>\S+) -s (?P<ip>[0-9a-fA-F.:]+)/(32|128)"
                        r" -m mac --mac-source (?P<mac>[0-9A-Fa-f:]{17})", re.M)


def antispoof(iptables: str, ip6tables: str) -> dict[str, list[str]]:
    """MAC -> the IPs the hybrid firewall lets that MAC send from (its port's fixed IPs and
    allowed address pairs)."""
    out: dict[str, list[str]] = {}
    for text in (iptables, ip6tables):
        for m in _ANTISPOOF.finditer(text):
            out.setdefault(m.group("mac").lower(), []).append(m.group("ip"))
    return out


def read_dhcp(cap: Capture, tables: DhcpTables) -> None:
    """Add the capture's DHCP agent files (``var/lib/neutron/dhcp/<net>/{host,opts}``)."""
    for p in cap.glob("var/lib/neutron/dhcp/*/host"):
        net = p.parent.name
        for line in cap.read(p).splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) < 2 or not re.match(r"^[0-9a-fA-F:]{17}$", parts[0]):
                continue
            ip = next((x.strip("[]") for x in parts[1:] if _is_ip(x.strip("[]"))), None)
            tag = next((x[4:] for x in parts[1:] if x.startswith("set:")), "")
            if ip:
                mac = parts[0].lower()
                tables.hosts.setdefault(mac, []).append((ip, tag, net))
                tables.sources.setdefault(mac, cap.where(cap.rel(p)))
    for p in cap.glob("var/lib/neutron/dhcp/*/opts"):
        for line in cap.read(p).splitlines():
            parts = [x.strip() for x in line.split(",")]
            tag = next((x[4:] for x in parts if x.startswith("tag:")), "")
            opts = [x for x in parts if not x.startswith("tag:")]
            if len(opts) >= 2 and opts[0] in ("option:router", "option:3"):
                tables.routers[tag] = opts[1]
            elif len(opts) >= 3 and opts[0] in ("option:classless-static-route", "option:121"):
                rest = opts[1:]
                tables.routes[tag] = [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Subnet:
    """A subnet seen on some host: an interface's address (the DHCP port's, a router's), the
    subnet's gateway as that interface shows it (a router interface ``qr-`` is the gateway; a
    router's gateway port ``qg-`` routes through the subnet's gateway), its network."""

    interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    gateway: str | None
    net_uuid: str | None
    where: str


def build_vm(plan: VmPlan, dhcp: DhcpTables, spoof: dict[str, list[str]],
             subnets: list[Subnet], found: Findings) -> Namespace:
    """The VM's namespace (lo, eth0...), its addresses and routes resolved from what the
    captures say (each inference a note)."""
    itfs = [Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",))]
    routes: list[Route] = []
    default: Route | None = None
    default6: Route | None = None
    for index, nic in enumerate(plan.nics):
        name = f"eth{index}"
        ips, how = list(nic.ips), "Nova's metadata in the domain XML"
        entries = dhcp.hosts.get(nic.mac, [])
        if not ips and entries:
            ips, how = [e[0] for e in entries], dhcp.sources.get(nic.mac, "the DHCP host files")
        if not ips and nic.mac in spoof:
            ips, how = spoof[nic.mac], "the hybrid firewall's anti-spoofing rules"
        addresses = []
        for ip in ips:
            sub = _subnet_of(ip, nic.net_uuid, subnets)
            if sub is None:
                found.warn(plan.source, f"VM {plan.name} {name} has {ip} ({how}), but no "
                           "captured DHCP port or router interface is on its subnet",
                           f"{ip} is given as a /32 without routes: the VM reaches nothing")
                addresses.append(f"{ip}/{32 if ':' not in ip else 128}")
                continue
            prefix = sub.interface.network.prefixlen
            addresses.append(f"{ip}/{prefix}")
            if not any(r.destination == str(sub.interface.network) and r.device == name
                       for r in routes):  # a secondary address adds no second prefix route
                routes.append(Route(str(sub.interface.network), name, scope="link",
                                    proto="kernel", source=ip))
            tag = next((e[1] for e in entries if e[0] == ip), "")
            gw = dhcp.routers.get(tag) if tag else None
            gw_how = "the DHCP options' router"
            if gw is None:
                router = next((s for s in subnets if s.gateway and s.interface.network ==
                               sub.interface.network and (nic.net_uuid is None or s.net_uuid in (
                                   None, nic.net_uuid))), None)
                if router is not None:
                    gw, gw_how = router.gateway, f"the router's ({router.where})"
            for cidr, hop in dhcp.routes.get(tag, []):
                if cidr not in ("0.0.0.0/0", "::/0"):
                    routes.append(Route(cidr, name, gateway=hop, proto="dhcp"))
            if default is None and gw and ":" not in ip:
                default = Route("default", name, gateway=gw, proto="dhcp")
                found.note(plan.source, f"VM {plan.name} {name}: {ip}/{prefix} ({how}), default "
                           f"route via {gw} ({gw_how})", "as the VM's DHCP client would set it")
            if default6 is None and gw and ":" in ip:
                default6 = Route("default", name, gateway=gw, proto="ra")
                found.note(plan.source, f"VM {plan.name} {name}: {ip}/{prefix} ({how}), IPv6 "
                           f"default route via {gw} ({gw_how})",
                           "as the VM's kernel takes it from the router's advertisements")
        if not ips:
            found.warn(plan.source, f"VM {plan.name} {name} ({nic.mac}): no IP is known (no "
                       "Nova metadata, DHCP host entry or anti-spoofing rule)",
                       "it cannot send IP from it; start points by its IP do not find it")
        itfs.append(Interface(name, VETH, mac=nic.mac, mtu=nic.mtu or 1500,
                              addresses=tuple(addresses), peer=nic.tap, peer_namespace=""))
    routes[:0] = [r for r in (default, default6) if r is not None]
    return Namespace(name=plan.name, kind=NS_VM, interfaces=tuple(itfs), routes=tuple(routes))


def _subnet_of(ip: str, net_uuid: str | None, subnets: list[Subnet]) -> Subnet | None:
    addr = ipaddress.ip_address(ip)
    hits = [s for s in subnets if addr in s.interface.network and s.interface.ip != addr]
    if net_uuid is not None:
        same = [s for s in hits if s.net_uuid == net_uuid]
        hits = same or [s for s in hits if s.net_uuid is None]
    return hits[0] if hits else None
