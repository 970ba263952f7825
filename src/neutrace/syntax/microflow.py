"""The microflow syntax of ``ovs-appctl ofproto/trace`` (layer 2): one packet with its in_port, as
``in_port=3,vlan_tci=0x0000,dl_src=...,dl_dst=...,arp,arp_spa=...`` ⇄ `Microflow`
(a `neutrace.packet.Packet`, the in_port and any pipeline fields such as ``reg6``).

`format_microflow` writes what ``ofproto/trace`` reads; `parse_microflow` reads what users type
and what ``ofproto/trace`` prints after ``Flow:`` and ``Final flow:`` (``strict=False`` ignores the
datapath-only fields OVS adds there: ``recirc_id``, ``nw_frag``, ``tun_gbp_id``, ...).
``parse_microflow(format_microflow(m)) == m``.
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.addr import is_mac, norm_mac
from neutrace.errors import SyntaxParseError
from neutrace.packet import (
    ETH_TYPE_ARP,
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    VLAN_CFI,
    Packet,
)
from neutrace.syntax import offields
from neutrace.syntax.text import cut

ETH_TYPE_RARP = 0x8035
ETH_TYPE_MPLS = 0x8847
ETH_TYPE_MPLS_MCAST = 0x8848
IPPROTO_SCTP = 132

# protocol shorthand -> (dl_type, nw_proto)
PROTOCOLS: dict[str, tuple[int, int]] = {
    "arp": (ETH_TYPE_ARP, 0),
    "ip": (ETH_TYPE_IP, 0),
    "icmp": (ETH_TYPE_IP, IPPROTO_ICMP),
    "tcp": (ETH_TYPE_IP, IPPROTO_TCP),
    "udp": (ETH_TYPE_IP, IPPROTO_UDP),
    "ipv6": (ETH_TYPE_IPV6, 0),
    "icmp6": (ETH_TYPE_IPV6, IPPROTO_ICMPV6),
    "tcp6": (ETH_TYPE_IPV6, IPPROTO_TCP),
    "udp6": (ETH_TYPE_IPV6, IPPROTO_UDP),
    "sctp": (ETH_TYPE_IP, IPPROTO_SCTP),
    "sctp6": (ETH_TYPE_IPV6, IPPROTO_SCTP),
    "rarp": (ETH_TYPE_RARP, 0),
    "mpls": (ETH_TYPE_MPLS, 0),
    "mplsm": (ETH_TYPE_MPLS_MCAST, 0),
}
# keywords that name no protocol (ofproto/trace's Flow: line starts with ``eth`` for Ethernet)
_NO_PROTOCOL = frozenset({"eth"})
_PROTO_NAME = {v: k for k, v in PROTOCOLS.items()}

# field aliases -> Packet attribute
_MAC_FIELDS = {
    "dl_src": "dl_src", "eth_src": "dl_src", "dl_dst": "dl_dst", "eth_dst": "dl_dst",
    "arp_sha": "arp_sha", "arp_tha": "arp_tha", "nd_sll": "nd_sll", "nd_tll": "nd_tll",
}
_IP4_FIELDS = {
    "nw_src": "nw_src", "ip_src": "nw_src", "nw_dst": "nw_dst", "ip_dst": "nw_dst",
    "arp_spa": "arp_spa", "arp_tpa": "arp_tpa", "tun_src": "tun_src", "tun_dst": "tun_dst",
}
_IP6_FIELDS = {"ipv6_src": "ipv6_src", "ipv6_dst": "ipv6_dst", "nd_target": "nd_target"}
_INT_FIELDS = {
    "dl_type": "dl_type", "eth_type": "dl_type", "arp_op": "arp_op", "nw_proto": "nw_proto",
    "ip_proto": "nw_proto", "nw_ttl": "nw_ttl", "nw_tos": "nw_tos", "tp_src": "tp_src",
    "tp_dst": "tp_dst", "tcp_src": "tp_src", "tcp_dst": "tp_dst", "udp_src": "tp_src",
    "udp_dst": "tp_dst", "icmp_type": "tp_src", "icmp_code": "tp_dst", "icmpv6_type": "tp_src",
    "icmpv6_code": "tp_dst", "tcp_flags": "tcp_flags", "tun_id": "tun_id",
    "tunnel_id": "tun_id", "vlan_tci": "vlan_tci",
}
# pipeline fields kept as text in Microflow.fields (registers, metadata, conntrack)
_PIPELINE_PREFIXES = ("reg", "xreg", "xxreg", "metadata", "ct_", "pkt_mark", "skb_priority")
# datapath-only or derived fields ofproto/trace prints in Flow:/Final flow: lines
_IGNORED = frozenset({
    "recirc_id", "dp_hash", "nw_ecn", "nw_frag", "tun_ipv6_src", "tun_ipv6_dst", "tun_gbp_id",
    "tun_gbp_flags", "tun_tos", "tun_ttl", "tun_erspan_ver", "gtpu_flags", "gtpu_msgtype",
    "tun_flags", "vlan_tci1", "ipv6_label", "packet_type", "in_port_oxm", "actset_output",
    "mpls_label",
})

SUPPORTED = (
    "in_port, dl_src, dl_dst, dl_type, vlan_tci, dl_vlan, dl_vlan_pcp, arp/ip/icmp/tcp/udp/"
    "ipv6/icmp6/tcp6/udp6/sctp/sctp6/rarp/mpls/mplsm, arp_op, arp_spa, arp_tpa, arp_sha, "
    "arp_tha, nw_src, nw_dst, "
    "nw_proto, nw_ttl, nw_tos, ipv6_src, ipv6_dst, tp_src, tp_dst, icmp_type, icmp_code, "
    "icmpv6_type, icmpv6_code, nd_target, nd_sll, nd_tll, tcp_flags, tun_id, tun_src, tun_dst, "
    "reg0..reg15, metadata, ct_*"
)


@dataclass(frozen=True, slots=True)
class Microflow:
    """A packet as ofproto/trace takes it: ``in_port`` (a port name or an OpenFlow port number as
    text, ``""`` when absent), the packet, and pipeline fields (``("reg6", "0x5")``)."""

    in_port: str
    packet: Packet
    fields: tuple[tuple[str, str], ...] = ()


# the width of each integer attribute (a value past it is refused, not wrapped)
_INT_MAX = {
    "dl_type": 0xFFFF, "arp_op": 0xFFFF, "nw_proto": 0xFF, "nw_ttl": 0xFF, "nw_tos": 0xFF,
    "tp_src": 0xFFFF, "tp_dst": 0xFFFF, "tcp_flags": 0xFFF, "tun_id": (1 << 64) - 1,
    "vlan_tci": 0xFFFF,
}
_ICMP_KEYS = frozenset({"icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code"})


def _int(text: str, maximum: int = (1 << 64) - 1) -> int:
    """A number as ofproto/trace reads it (``0x`` hex, a leading 0 octal, else decimal)."""
    try:
        value = offields.read_uint(text)
    except offields.FieldValueError as e:
        raise ValueError(str(e)) from None
    if value > maximum:
        raise ValueError(f"{cut(text)} is past {maximum}")
    return value


def _ip4(text: str) -> str:
    try:
        return offields.int_to_ipv4(offields.ipv4_to_int(text))
    except offields.FieldValueError as e:
        raise ValueError(str(e)) from None


def _ip6(text: str) -> str:
    try:
        return offields.int_to_ipv6(offields.ipv6_to_int(text))
    except offields.FieldValueError as e:
        raise ValueError(str(e)) from None


# attribute -> (the prerequisite's name, the dl_types and nw_protos it needs; None: any)
_IP_ANY = (ETH_TYPE_IP, ETH_TYPE_IPV6)
_PREREQ: dict[str, tuple[str, tuple[int, ...], tuple[int, ...] | None]] = {
    "arp_op": ("arp", (ETH_TYPE_ARP, ETH_TYPE_RARP), None),
    "arp_spa": ("arp", (ETH_TYPE_ARP, ETH_TYPE_RARP), None),
    "arp_tpa": ("arp", (ETH_TYPE_ARP, ETH_TYPE_RARP), None),
    "arp_sha": ("arp", (ETH_TYPE_ARP, ETH_TYPE_RARP), None),
    "arp_tha": ("arp", (ETH_TYPE_ARP, ETH_TYPE_RARP), None),
    "nw_src": ("ip", (ETH_TYPE_IP,), None), "nw_dst": ("ip", (ETH_TYPE_IP,), None),
    "ipv6_src": ("ipv6", (ETH_TYPE_IPV6,), None), "ipv6_dst": ("ipv6", (ETH_TYPE_IPV6,), None),
    "nw_ttl": ("ip or ipv6", _IP_ANY, None), "nw_tos": ("ip or ipv6", _IP_ANY, None),
    "tp_src": ("tcp, udp, sctp or icmp", _IP_ANY,
               (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP, IPPROTO_ICMPV6)),
    "tp_dst": ("tcp, udp, sctp or icmp", _IP_ANY,
               (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP, IPPROTO_ICMPV6)),
    "tcp_flags": ("tcp", _IP_ANY, (IPPROTO_TCP,)),
    "nd_target": ("icmp6", (ETH_TYPE_IPV6,), (IPPROTO_ICMPV6,)),
    "nd_sll": ("icmp6", (ETH_TYPE_IPV6,), (IPPROTO_ICMPV6,)),
    "nd_tll": ("icmp6", (ETH_TYPE_IPV6,), (IPPROTO_ICMPV6,)),
}


TCP_FLAG_NAMES = {
    "fin": 0x001, "syn": 0x002, "rst": 0x004, "psh": 0x008, "ack": 0x010, "urg": 0x020,
    "ece": 0x040, "cwr": 0x080, "ns": 0x100, "[200]": 0x200, "[400]": 0x400, "[800]": 0x800,
}


def _tcp_flags(text: str) -> int:
    """``0x012`` or ofproto/trace's spelling ``syn|ack``."""
    if text.startswith(("+", "-")):
        raise ValueError("tcp_flags must be a number (0x012) or names (syn|ack), not +syn")
    if offields.is_decimal(text[:1]):
        return _int(text, 0xFFF)
    value = 0
    for name in text.split("|"):
        if name not in TCP_FLAG_NAMES:
            raise ValueError(f"unknown TCP flag {cut(name)!r}")
        value |= TCP_FLAG_NAMES[name]
    return value


def parse_microflow(
    text: str, *, source: str = "<microflow>", line: int | None = None, strict: bool = True
) -> Microflow:
    """Parse ``in_port=3,dl_src=...,arp,...``; raises `SyntaxParseError` naming the field."""
    text = text.strip()
    if not text:
        raise SyntaxParseError(source, "microflow", "empty microflow",
                               "give at least in_port=PORT and the packet's fields", line)
    values: dict[str, object] = {}
    in_port = ""
    dl_type: int | None = None
    nw_proto: int | None = None
    vid: int | None = None
    pcp: int | None = None
    extra: list[tuple[str, str]] = []
    written: dict[str, str] = {}  # Packet attribute -> the key that set it (for messages)
    if "\x00" in text:
        raise SyntaxParseError(source, "microflow", "the microflow has a NUL character",
                               "remove the NUL", line)
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        value = value.strip()

        def bad(problem: str, fix: str, _key: str = key) -> SyntaxParseError:
            return SyntaxParseError(source, f"field {cut(_key)!r}", problem, fix, line)

        def set_proto(new_type: int, new_proto: int | None, _key: str = key) -> None:
            nonlocal dl_type, nw_proto
            if dl_type is not None and dl_type != new_type or (
                    new_proto is not None and nw_proto is not None and nw_proto != new_proto):
                raise bad("the protocol is given twice, differently",
                          "give one protocol (arp, ip, tcp, ...) or dl_type/nw_proto once")
            dl_type = new_type
            if new_proto is not None:
                nw_proto = new_proto

        try:
            if not sep:
                if key in _NO_PROTOCOL:
                    continue
                if key in PROTOCOLS:
                    new_type, proto = PROTOCOLS[key]
                    set_proto(new_type, proto or None)
                    continue
                if key in _IGNORED or not strict:
                    continue
                raise bad("unknown protocol keyword", f"use one of {', '.join(PROTOCOLS)}")
            if key == "in_port":
                try:
                    offields.parse_port(value, lambda name: 1)
                except offields.FieldValueError as e:
                    raise bad(str(e), "write in_port=PORT, a port name or a number") from None
                in_port = value
            elif key in _MAC_FIELDS:
                if not is_mac(value):
                    raise bad(f"{cut(value)!r} is not a MAC address",
                              "write it as 00:11:22:33:44:55")
                mac = norm_mac(value)
                if key in ("nd_sll", "nd_tll") and mac == "00:00:00:00:00:00":
                    continue  # OVS prints an absent ND option as zeros
                values[_MAC_FIELDS[key]] = mac
                written[_MAC_FIELDS[key]] = key
            elif key in _IP4_FIELDS:
                values[_IP4_FIELDS[key]] = _ip4(value)
                written[_IP4_FIELDS[key]] = key
            elif key in _IP6_FIELDS:
                ip6 = _ip6(value)
                if key == "nd_target" and ip6 == "::":
                    continue  # OVS prints an absent ND target as ::
                values[_IP6_FIELDS[key]] = ip6
                written[_IP6_FIELDS[key]] = key
            elif key == "dl_vlan":
                vid = _int(value, 4095)
            elif key == "dl_vlan_pcp":
                pcp = _int(value, 7)
            elif key == "tcp_flags":
                values["tcp_flags"] = _tcp_flags(value)
                written["tcp_flags"] = key
            elif key in _INT_FIELDS:
                attr = _INT_FIELDS[key]
                number = _int(value, 0xFF if key in _ICMP_KEYS else _INT_MAX[attr])
                if attr == "dl_type":
                    set_proto(number, None)
                elif attr == "nw_proto":
                    if nw_proto is not None and nw_proto != number:
                        raise bad("the protocol is given twice, differently",
                                  "give nw_proto (or tcp, udp, ...) once")
                    nw_proto = number
                else:
                    values[attr] = number
                    written[attr] = key
            elif key == "nw_frag":  # a fragment: the engine's nw_frag slot (no: the default)
                offields.parse_value(offields.FIELDS["nw_frag"], value)
                if value != "no":
                    extra.append((key, value))
            elif key.startswith(_PIPELINE_PREFIXES):
                field = offields.lookup(key)
                if field is not None and field.kind == offields.K_INT:
                    offields.parse_value(field, value)  # ct_state's new|trk is OVS's own
                elif field is None and strict and not key.startswith(("xreg", "xxreg")):
                    raise bad("field not supported in a microflow", f"use only: {SUPPORTED}")
                extra.append((key, value))
            elif key in _IGNORED or not strict:
                continue
            else:
                raise bad("field not supported in a microflow", f"use only: {SUPPORTED}")
        except ValueError as exc:
            raise bad(f"bad value {cut(value)!r}: {exc}",
                      "check the field's syntax in ovs-fields(7)") from None
    if dl_type is None:
        dl_type = 0  # as ofproto/trace takes it: an Ethernet frame of type 0x0000
    if vid is not None or pcp is not None:
        tci = int(values.get("vlan_tci", 0))  # type: ignore[call-overload]
        if vid is not None:
            tci = (tci & ~0x0FFF) | VLAN_CFI | vid
        if pcp is not None:
            tci = (tci & ~0xE000) | VLAN_CFI | (pcp << 13)
        values["vlan_tci"] = tci
    if dl_type not in _IP_ANY and nw_proto:
        raise SyntaxParseError(source, "field 'nw_proto'", "nw_proto needs ip or ipv6",
                               "add ip (or ipv6), or leave nw_proto out", line)
    for attr, (need, types, protos) in _PREREQ.items():
        if attr in written and (dl_type not in types or (
                protos is not None and (nw_proto or 0) not in protos)):
            raise SyntaxParseError(source, f"field {written[attr]!r}",
                                   f"{written[attr]} needs {need} (its prerequisite)",
                                   f"add {need.split(' ')[0]} to the microflow, or leave "
                                   f"{written[attr]} out", line)
    for mac in ("dl_src", "dl_dst"):
        values.setdefault(mac, "00:00:00:00:00:00")
    packet = Packet(dl_type=dl_type, nw_proto=nw_proto or 0, **values)  # type: ignore[arg-type]
    return Microflow(in_port=in_port, packet=packet, fields=tuple(extra))


def format_microflow(flow: Microflow) -> str:
    """The text ``ofproto/trace`` takes, with every set field of the packet, in the order OVS's
    own ``Flow:`` line has them (``match_format``): the protocol, the tunnel, registers and
    metadata, ``in_port``, the Ethernet header, then L3 (``arp_spa,arp_tpa,arp_op,arp_sha,
    arp_tha`` for ARP) and L4."""
    p = flow.packet
    out: list[str] = []
    proto_name = _PROTO_NAME.get((p.dl_type, p.nw_proto))
    named_proto = proto_name is not None  # "tcp" says nw_proto too
    if proto_name is None:
        proto_name = _PROTO_NAME.get((p.dl_type, 0))
    if proto_name is not None:
        out.append(proto_name)
    if p.tun_id:
        out.append(f"tun_id={p.tun_id:#x}")
    if p.tun_src:
        out.append(f"tun_src={p.tun_src}")
    if p.tun_dst:
        out.append(f"tun_dst={p.tun_dst}")
    out.extend(f"{k}={v}" for k, v in flow.fields)
    if flow.in_port:
        out.append(f"in_port={flow.in_port}")
    out.append(f"vlan_tci={p.vlan_tci:#06x}")
    out.append(f"dl_src={p.dl_src}")
    out.append(f"dl_dst={p.dl_dst}")
    if proto_name is None:
        out.append(f"dl_type={p.dl_type:#06x}")
    if p.dl_type in (ETH_TYPE_ARP, ETH_TYPE_RARP):
        for name in ("arp_spa", "arp_tpa", "arp_op", "arp_sha", "arp_tha"):
            value = getattr(p, name)
            if value not in ("", 0):
                out.append(f"{name}={value}")
    elif p.dl_type in (ETH_TYPE_IP, ETH_TYPE_IPV6):
        names = ("nw_src", "nw_dst") if p.dl_type == ETH_TYPE_IP else ("ipv6_src", "ipv6_dst")
        for name in names:
            value = getattr(p, name)
            if value:
                out.append(f"{name}={value}")
        if p.nw_proto and not named_proto:
            out.append(f"nw_proto={p.nw_proto}")
        for name in ("nw_tos", "nw_ttl"):
            value = getattr(p, name)
            if value:
                out.append(f"{name}={value}")
        if p.nw_proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            prefix = "icmp" if p.nw_proto == IPPROTO_ICMP else "icmpv6"
            out.append(f"{prefix}_type={p.tp_src}")
            out.append(f"{prefix}_code={p.tp_dst}")
            for name in ("nd_target", "nd_sll", "nd_tll"):
                value = getattr(p, name)
                if value:
                    out.append(f"{name}={value}")
        elif p.nw_proto in (IPPROTO_TCP, IPPROTO_UDP):
            # ofproto/trace wants the OXM names here (tp_src fails its prerequisite check)
            prefix = "tcp" if p.nw_proto == IPPROTO_TCP else "udp"
            out.append(f"{prefix}_src={p.tp_src}")
            out.append(f"{prefix}_dst={p.tp_dst}")
        elif p.tp_src or p.tp_dst:
            out.append(f"tp_src={p.tp_src}")
            out.append(f"tp_dst={p.tp_dst}")
        if p.tcp_flags:
            out.append(f"tcp_flags={p.tcp_flags:#05x}")
    elif p.nw_proto:
        out.append(f"nw_proto={p.nw_proto}")
    return ",".join(out)
