"""Start points and conversations (layer 4): who sends what, cold or warm, and the reply.

- `find_endpoint` turns what a user types (a VM name, a namespace such as ``qrouter-…``, an outside
  host's name, an IP or MAC address of any of them, a port id or device name such as
  ``tapaf305168-66``, or ``host:interface``) into the host and namespace whose own stack sends.
- `converse` walks a request and, optionally, the reply the destination sends back through the
  state the request left (conntrack un-NATs it, MAC tables and learned flows are warm).
  ``warm=True`` first runs the same exchange once on the state, so the traced packets see the
  steady state (learned MACs, learned flows, neighbour caches, conntrack entries).
- `dhcp_discover` has a VM broadcast a DHCPDISCOVER from its NIC, as its DHCP client does.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from neutrace.addr import BROADCAST_MAC
from neutrace.dataplane import NS_DHCP, NS_VM, Namespace
from neutrace.errors import CommandLineError, StartPointError
from neutrace.packet import (
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Packet,
)
from neutrace.sim.walk import SimState, Walker
from neutrace.trace import Hop, Trace

PROTOS = {"icmp": IPPROTO_ICMP, "tcp": IPPROTO_TCP, "udp": IPPROTO_UDP}
TCP_SYN = 0x02
TCP_SYN_ACK = 0x12
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129
EPHEMERAL_PORT = 40000


@dataclass(frozen=True)
class Endpoint:
    """A sender: the host ("" outside the cloud), its namespace, and the address it uses."""

    host: str
    namespace: str
    ip: str
    label: str


@dataclass(frozen=True)
class Conversation:
    """A request's walk and, when asked for, the reply's walk."""

    request: Trace
    reply: Trace | None = None
    reply_from: Endpoint | None = None


def find_endpoint(walker: Walker, spec: str, toward: str = "", *,
                  option: str = "--from") -> Endpoint:
    """The sender named by ``spec`` (see the module docstring). ``toward`` (an IP) picks the
    address of the right family when the namespace has several. ``option`` names what the user
    typed it into (``--from``, ``--to``) in the `StartPointError` raised when it names nothing
    that can send."""
    if _MAC.match(spec):
        return _by_mac(walker, spec, toward, option)
    if ":" in spec and not is_ip(spec):
        return _by_interface(walker, spec, toward, option)
    if is_ip(spec):
        owner = walker.owner_of(spec)
        if owner is None:
            raise StartPointError(option, spec, f"no VM, namespace or outside host of the "
                                  f"cloud has the address {spec}", _known(walker))
        host, ns, _ = owner
        return Endpoint(host, ns.name, spec, f"{ns.name} ({spec})")
    hit = walker.find_namespace(spec)
    if hit is not None:
        return _endpoint(hit[0], hit[1], spec, toward, option=option)
    vm = _by_device(walker, spec, toward, option)
    if vm is not None:
        return vm
    raise StartPointError(option, spec, _unknown(spec, option), _known(walker))


_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def _by_mac(walker: Walker, spec: str, toward: str, option: str) -> Endpoint:
    """A MAC address: the VM (else the namespace) whose NIC has it."""
    mac = spec.lower()
    hits = [(h.name, ns, itf) for h in walker.cloud.hosts for ns in h.namespaces
            for itf in ns.interfaces if (itf.mac or "").lower() == mac]
    hits.sort(key=lambda t: t[1].kind != NS_VM)
    if not hits:
        raise StartPointError(option, spec, f"no interface of the cloud has the MAC {spec}",
                              _known(walker))
    host, ns, itf = hits[0]
    return _endpoint(host, ns, spec, toward, itf.addresses, option=option)


def _by_interface(walker: Walker, spec: str, toward: str, option: str) -> Endpoint:
    """``host:interface``: the interface's own namespace, or the VM behind a tap."""
    host, _, itf_name = spec.partition(":")
    found = walker.find_interface(host, itf_name)
    if found is None:
        hosts = ", ".join(h.name for h in walker.cloud.hosts)
        raise StartPointError(option, spec, f"host {host!r} has no interface {itf_name!r}",
                              f"write host:interface with one of the hosts {hosts} and an "
                              f"interface of `neutrace show CLOUD --host HOST`")
    ns, itf = found
    if ns.kind == NS_VM or itf.addresses:
        return _endpoint(host, ns, spec, toward, itf.addresses, option=option)
    behind = walker.find_namespace(itf.peer_namespace or "") if itf.peer else None
    if behind is not None and behind[0] == host and behind[1].kind == NS_VM:
        return _endpoint(host, behind[1], spec, toward, option=option)
    raise StartPointError(option, spec, f"{itf_name} has no address to send from",
                          "give an interface with an address, or the VM behind a tap")


def _by_device(walker: Walker, spec: str, toward: str, option: str) -> Endpoint | None:
    """A port id (prefix) or a device name (tap…, qvo…, qvb…, qbr…) of a VM."""
    for h in walker.cloud.hosts:
        for itf in h.root.interfaces:
            short = itf.name[3:]
            if itf.name == spec or (len(spec) >= 8 and short and spec.startswith(short)):
                vm = _vm_behind(h.namespaces, short)
                if vm is not None:
                    return _endpoint(h.name, vm, spec, toward, option=option)
    return None


def _unknown(spec: str, option: str) -> str:
    """What is wrong with a start point or destination that names nothing (an address that is
    not a valid one says so)."""
    nobody = f"no VM, namespace or outside host is called {spec}"
    parts = spec.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        role = "the destination" if option == "--to" else "the start point"
        return f"{role} is not a valid IPv4 address (four numbers 0 to 255), and {nobody}"
    if option == "--to":
        return f"the destination is not an IP address, and {nobody}"
    return f"{nobody}, and it is not an IP address, a port id or device name, or host:interface"


def _known(walker: Walker, limit: int = 12) -> str:
    """The names a user can give, by kind (each list cut at ``limit``)."""
    kinds: dict[str, list[str]] = {"VMs": [], "namespaces": [], "outside hosts": []}
    for host, ns in walker.namespaces():
        if ns.kind == NS_VM:
            kinds["VMs"].append(ns.name)
        elif host == "":
            kinds["outside hosts"].append(ns.name)
        elif ns.name:
            kinds["namespaces"].append(ns.name)
    parts = []
    for kind, names in kinds.items():
        if names:
            shown = sorted(set(names))
            more = f", … ({len(shown) - limit} more)" if len(shown) > limit else ""
            parts.append(f"{kind}: {', '.join(shown[:limit])}{more}")
    return "known " + "; ".join(parts) if parts else "the cloud has no namespace to send from"


def _vm_behind(namespaces: tuple[Namespace, ...], short: str) -> Namespace | None:
    """The VM whose NIC is the far end of the device whose name ends in ``short``."""
    for ns in namespaces:
        if ns.kind != NS_VM:
            continue
        for itf in ns.interfaces:
            if itf.peer and itf.peer[3:] == short:
                return ns
    return None


def _endpoint(host: str, ns: Namespace, label: str, toward: str,
              addresses: tuple[str, ...] = (), *, option: str = "--from") -> Endpoint:
    """``ns`` sending from its first address of ``toward``'s family (IPv4 by default)."""
    want = ipaddress.ip_address(toward).version if toward and is_ip(toward) else 4
    cidrs = addresses or _by_route(ns, toward) + tuple(
        c for i in ns.interfaces if i.kind != "loopback" for c in i.addresses)
    for cidr in cidrs:
        ip = ipaddress.ip_interface(cidr).ip
        if ip.version == want and not ip.is_link_local:
            shown = f"{ns.name} ({ip})" if label == ns.name else f"{label} ({ns.name})"
            return Endpoint(host, ns.name, str(ip), shown)
    raise StartPointError(option, label, f"{ns.name} has no IPv{want} address to send from",
                          f"give a destination of the family it has, or a start point with an "
                          f"IPv{want} address")


def _by_route(ns: Namespace, toward: str) -> tuple[str, ...]:
    """The addresses the kernel would pick first to send to ``toward``: the main table's
    longest-prefix route's ``src``, else the addresses of its device (as ``ip route get`` says
    with one table; policy rules are not looked at)."""
    if not toward or not is_ip(toward):
        return ()
    dst = ipaddress.ip_address(toward)
    best = None
    for r in ns.routes:
        if r.table != "main":
            continue
        net = ipaddress.ip_network("0.0.0.0/0" if dst.version == 4 else "::/0") \
            if r.destination == "default" else ipaddress.ip_network(r.destination, strict=False)
        if net.version == dst.version and dst in net and (
                best is None or net.prefixlen > best[0].prefixlen):
            best = (net, r)
    if best is None:
        return ()
    route = best[1]
    if route.source:
        return (f"{route.source}/{32 if dst.version == 4 else 128}",)
    itf = ns.interface(route.device)
    return itf.addresses if itf is not None else ()


def is_ip(text: str) -> bool:
    """True if ``text`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def request_packet(src: str, dst: str, proto: str = "icmp", dport: int = 0,
                   sport: int = 0) -> Packet:
    """The IP packet a stack sends (L2 addresses are filled in by its neighbour lookup)."""
    if proto not in PROTOS:
        raise CommandLineError("--proto", proto, "unknown protocol",
                               "use one of " + ", ".join(PROTOS))
    v6 = ipaddress.ip_address(dst).version == 6
    nw_proto = PROTOS[proto]
    flags = 0
    if nw_proto == IPPROTO_ICMP:
        if v6:
            nw_proto = IPPROTO_ICMPV6
        sport, dport = (ICMPV6_ECHO_REQUEST if v6 else ICMP_ECHO_REQUEST), 0
    else:
        sport = sport or EPHEMERAL_PORT
        dport = dport or (80 if nw_proto == IPPROTO_TCP else 53)
        flags = TCP_SYN if nw_proto == IPPROTO_TCP else 0
    if v6:
        return Packet(dl_src="", dl_dst="", dl_type=ETH_TYPE_IPV6, ipv6_src=src, ipv6_dst=dst,
                      nw_proto=nw_proto, nw_ttl=64, tp_src=sport, tp_dst=dport, tcp_flags=flags)
    return Packet(dl_src="", dl_dst="", dl_type=ETH_TYPE_IP, nw_src=src, nw_dst=dst,
                  nw_proto=nw_proto, nw_ttl=64, tp_src=sport, tp_dst=dport, tcp_flags=flags)


def reply_packet(received: Packet) -> Packet:
    """What the destination's stack answers to ``received`` (as it arrived there): an echo
    reply, a SYN-ACK, or a UDP datagram back."""
    p = received
    if p.nw_proto == IPPROTO_ICMP:
        sport, dport = ICMP_ECHO_REPLY, 0
    elif p.nw_proto == IPPROTO_ICMPV6:
        sport, dport = ICMPV6_ECHO_REPLY, 0
    else:
        sport, dport = p.tp_dst, p.tp_src
    flags = TCP_SYN_ACK if p.nw_proto == IPPROTO_TCP else 0
    return p.with_(dl_src="", dl_dst="", vlan_tci=0, nw_src=p.nw_dst, nw_dst=p.nw_src,
                   ipv6_src=p.ipv6_dst, ipv6_dst=p.ipv6_src, nw_ttl=64, tp_src=sport,
                   tp_dst=dport, tcp_flags=flags, payload=None, tun_id=0, tun_src="",
                   tun_dst="")


def delivered_to(trace: Trace) -> tuple[Hop, str] | None:
    """The last hop of the first copy that reached a VM, an outside host or a namespace's own
    stack, and that hop's host."""
    for hops, disposition in trace.paths():
        if disposition.success and hops:
            return hops[-1], hops[-1].host
    return None


def converse(walker: Walker, src: Endpoint, dst_ip: str, state: SimState, proto: str = "icmp",
             dport: int = 0, reply: bool = True, warm: bool = False,
             sport: int = 0) -> Conversation:
    """Walk ``src`` → ``dst_ip`` and (``reply``) the answer back, on ``state`` (changed in
    place). ``warm`` runs the same exchange once first, so the walk shows the steady state."""
    packet = request_packet(src.ip, dst_ip, proto, dport, sport)
    if warm:
        _exchange(walker, src, packet, state, reply=True)
    return _exchange(walker, src, packet, state, reply)


def _exchange(walker: Walker, src: Endpoint, packet: Packet, state: SimState,
              reply: bool) -> Conversation:
    """One request walk and, when it reached someone and ``reply``, that one's answer."""
    request = walker.send(src.host, src.namespace, packet, state, start=src.label)
    if not reply:
        return Conversation(request)
    end = delivered_to(request)
    if end is None:
        return Conversation(request)
    hop, host = end
    answer = reply_packet(hop.packet)
    rstart = f"{hop.element} ({answer.src_ip}), replying"
    back = walker.send(host, hop.element, answer, state, start=rstart)
    return Conversation(request, back, Endpoint(host, hop.element, answer.src_ip, rstart))


def dhcp_discover(walker: Walker, vm: str, state: SimState, *,
                  option: str = "--from") -> Trace:
    """The VM's DHCP client broadcasts a DHCPDISCOVER (UDP 0.0.0.0:68 → 255.255.255.255:67)."""
    hit = walker.find_namespace(vm)
    if hit is None or hit[1].kind != NS_VM:
        raise StartPointError(option, vm, "a DHCPDISCOVER is sent by a VM, and no VM is "
                              "called so", _known(walker))
    host, ns = hit
    nic = next((i for i in ns.interfaces if i.peer is not None), None)
    if nic is None or nic.mac is None:
        raise StartPointError(option, vm, "the VM has no NIC with a MAC address to send "
                              "from", "give the VM a port in the topology file")
    frame = Packet(dl_src=nic.mac, dl_dst=BROADCAST_MAC, dl_type=ETH_TYPE_IP,
                   nw_src="0.0.0.0", nw_dst="255.255.255.255", nw_proto=IPPROTO_UDP,
                   nw_ttl=64, tp_src=68, tp_dst=67)
    return walker.emit(host, ns.name, nic.name, frame, state,
                       start=f"{vm} DHCPDISCOVER from {nic.name} ({nic.mac})")


def dhcp_offer(walker: Walker, vm: str, discover: Trace, state: SimState) -> Trace | None:
    """The DHCP agent's answer to ``discover``: the DHCPOFFER that dnsmasq in the ``qdhcp-``
    namespace which took the DISCOVER in sends back, unicast to the VM's MAC and fixed IP
    (UDP 67 → 68), out of the DHCP port's tap; None when no DHCP namespace took it in."""
    hit = walker.find_namespace(vm)
    if hit is None:
        return None
    nic = next((i for i in hit[1].interfaces if i.peer is not None), None)
    vm_ip = next((a.split("/")[0] for a in (nic.addresses if nic else ())
                  if ":" not in a), None)
    if nic is None or nic.mac is None or vm_ip is None:
        return None
    for hops, disposition in discover.paths():
        if not (disposition.success and hops):
            continue
        last = hops[-1]
        server = walker.find_namespace(last.element)
        if server is None or server[1].kind != NS_DHCP:
            continue
        host, ns = server
        tap = ns.interface(last.in_port)
        ip = next((a.split("/")[0] for a in (tap.addresses if tap else ()) if ":" not in a),
                  None)
        if tap is None or tap.mac is None or ip is None:
            continue
        frame = Packet(dl_src=tap.mac, dl_dst=nic.mac, dl_type=ETH_TYPE_IP, nw_src=ip,
                       nw_dst=vm_ip, nw_proto=IPPROTO_UDP, nw_ttl=64, tp_src=67, tp_dst=68)
        return walker.emit(host, ns.name, tap.name, frame, state,
                           start=f"{ns.name} DHCPOFFER {vm_ip} to {vm} from {tap.name} "
                                 f"({ip})")
    return None
