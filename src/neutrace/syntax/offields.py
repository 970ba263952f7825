"""OpenFlow match/set fields as ovs-fields(7) names them (layer 2): every name a flow or an action
may use (``dl_src``/``eth_src``/``NXM_OF_ETH_SRC``/``OXM_OF_ETH_SRC``, ``reg0``/``NXM_NX_REG0``...),
the slot of the packet/metadata it lives in, its width, how its values are written and its
prerequisites; and the value parsers (MAC, IPv4/IPv6 with CIDR or mask, integers with ``/mask``,
``ct_state``/``tcp_flags`` flag syntax, ports).

Slots are the `neutrace.packet.Packet` field names for header fields and ``in_port``,
``metadata``, ``reg0``..``reg15``, ``ct_state``... for pipeline metadata. A field may be a bit range
of its slot (``dl_vlan_pcp`` is bits 13..15 of ``vlan_tci``; ``ip_dscp`` bits 2..7 of ``nw_tos``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field

# Pipeline slots, in a fixed order: the Packet's header fields first, then metadata.
PACKET_SLOTS: tuple[str, ...] = (
    "dl_src", "dl_dst", "dl_type", "vlan_tci",
    "arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha",
    "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nw_proto", "nw_ttl", "nw_tos",
    "tp_src", "tp_dst", "tcp_flags", "nd_target", "nd_sll", "nd_tll",
    "tun_id", "tun_src", "tun_dst",
)
META_SLOTS: tuple[str, ...] = (
    "in_port", "metadata", *(f"reg{i}" for i in range(16)),
    "ct_state", "ct_zone", "ct_mark", "ct_label", "conj_id", "pkt_mark",
    "nw_ecn",  # the IP ECN bits: a Packet's nw_tos holds the DSCP bits only, as OVS prints it
    "nw_frag",  # IP fragment bits: 1 a fragment, 2 a later one (FLOW_NW_FRAG_ANY/LATER)
)
SLOTS: tuple[str, ...] = PACKET_SLOTS + META_SLOTS
SLOT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SLOTS)}

# How a slot's value is written in a Packet (string kinds are converted to ints in the engine)
MAC_SLOTS = frozenset({"dl_src", "dl_dst", "arp_sha", "arp_tha", "nd_sll", "nd_tll"})
IPV4_SLOTS = frozenset({"arp_spa", "arp_tpa", "nw_src", "nw_dst", "tun_src", "tun_dst"})
IPV6_SLOTS = frozenset({"ipv6_src", "ipv6_dst", "nd_target"})

ETH_TYPE_IP = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_RARP = 0x8035
ETH_TYPE_IPV6 = 0x86DD

# Protocol shorthands: name -> (dl_type, nw_proto or None)
PROTOCOLS: dict[str, tuple[int, int | None]] = {
    "ip": (ETH_TYPE_IP, None), "ipv4": (ETH_TYPE_IP, None), "ipv6": (ETH_TYPE_IPV6, None),
    "icmp": (ETH_TYPE_IP, 1), "icmp6": (ETH_TYPE_IPV6, 58),
    "tcp": (ETH_TYPE_IP, 6), "tcp6": (ETH_TYPE_IPV6, 6),
    "udp": (ETH_TYPE_IP, 17), "udp6": (ETH_TYPE_IPV6, 17),
    "sctp": (ETH_TYPE_IP, 132), "sctp6": (ETH_TYPE_IPV6, 132),
    "igmp": (ETH_TYPE_IP, 2),
    "arp": (ETH_TYPE_ARP, None), "rarp": (ETH_TYPE_RARP, None),
}

# Prerequisite kinds
P_NONE = ""
P_ARP = "arp"  # dl_type arp/rarp
P_IP = "ip"  # IPv4
P_IPV6 = "ipv6"
P_IP_ANY = "ip_any"  # IPv4 or IPv6
P_TCP = "tcp"
P_UDP = "udp"
P_SCTP = "sctp"
P_TP = "tp"  # tcp, udp or sctp
P_ICMP = "icmp"
P_ICMP6 = "icmp6"
P_ND = "nd"  # ICMPv6 neighbour solicitation/advertisement
P_ND_NS = "nd_ns"
P_ND_NA = "nd_na"
P_VLAN = "vlan"  # an 802.1Q header (for vlan_pcp as a set target only)

# Value kinds
K_INT = "int"
K_MAC = "mac"
K_IPV4 = "ipv4"
K_IPV6 = "ipv6"
K_PORT = "port"
K_CT_STATE = "ct_state"
K_TCP_FLAGS = "tcp_flags"
K_FRAG = "frag"
# nw_frag's words (ovs-fields(7)) as value/mask of its two bits
FRAG_WORDS: dict[str, tuple[int, int]] = {
    "no": (0, 1), "yes": (1, 1), "first": (1, 3), "later": (3, 3), "not_later": (0, 2)}
K_DL_VLAN = "dl_vlan"  # the OF1.0 dl_vlan/dl_vlan_pcp shorthands (special match semantics)
K_DL_VLAN_PCP = "dl_vlan_pcp"


@dataclass(frozen=True, slots=True)
class Field:
    """One ovs-fields(7) field: ``name`` is the canonical name neutrace writes, ``slot`` the
    pipeline slot it lives in, ``ofs``/``nbits`` its bit range there."""

    name: str
    slot: str
    nbits: int
    kind: str = K_INT
    prereq: str = P_NONE
    ofs: int = 0
    maskable: bool = True

    @property
    def mask(self) -> int:
        return ((1 << self.nbits) - 1) << self.ofs


FIELDS: dict[str, Field] = {}


NXM_NAMES: dict[str, str] = {}  # canonical name -> the NXM (else OXM) name OVS prints in actions


def _add(names: tuple[str, ...], field: Field) -> None:
    for n in (field.name, *names):
        FIELDS[n] = field
        FIELDS[n.lower()] = field
    nxm = [n for n in names if n.startswith("NXM_")] or [n for n in names if n.startswith("OXM_")]
    if nxm and field.name not in NXM_NAMES:
        NXM_NAMES[field.name] = nxm[0]


_add(("NXM_OF_IN_PORT", "OXM_OF_IN_PORT", "in_port_oxm"),
     Field("in_port", "in_port", 16, K_PORT, maskable=False))
_add(("eth_src", "NXM_OF_ETH_SRC", "OXM_OF_ETH_SRC"), Field("dl_src", "dl_src", 48, K_MAC))
_add(("eth_dst", "NXM_OF_ETH_DST", "OXM_OF_ETH_DST"), Field("dl_dst", "dl_dst", 48, K_MAC))
_add(("eth_type", "NXM_OF_ETH_TYPE", "OXM_OF_ETH_TYPE"),
     Field("dl_type", "dl_type", 16, maskable=False))
_add(("NXM_OF_VLAN_TCI",), Field("vlan_tci", "vlan_tci", 16))
_add((), Field("dl_vlan", "vlan_tci", 12, K_DL_VLAN, maskable=False))
_add((), Field("dl_vlan_pcp", "vlan_tci", 3, K_DL_VLAN_PCP, ofs=13, maskable=False))
_add(("OXM_OF_VLAN_VID",), Field("vlan_vid", "vlan_tci", 13, prereq=P_VLAN))
_add(("OXM_OF_VLAN_PCP",), Field("vlan_pcp", "vlan_tci", 3, ofs=13, prereq=P_VLAN,
                                 maskable=False))
_add(("NXM_OF_ARP_OP", "OXM_OF_ARP_OP"), Field("arp_op", "arp_op", 16, prereq=P_ARP,
                                                maskable=False))
_add(("NXM_OF_ARP_SPA", "OXM_OF_ARP_SPA"), Field("arp_spa", "arp_spa", 32, K_IPV4, P_ARP))
_add(("NXM_OF_ARP_TPA", "OXM_OF_ARP_TPA"), Field("arp_tpa", "arp_tpa", 32, K_IPV4, P_ARP))
_add(("NXM_NX_ARP_SHA", "OXM_OF_ARP_SHA"), Field("arp_sha", "arp_sha", 48, K_MAC, P_ARP))
_add(("NXM_NX_ARP_THA", "OXM_OF_ARP_THA"), Field("arp_tha", "arp_tha", 48, K_MAC, P_ARP))
_add(("ip_src", "NXM_OF_IP_SRC", "OXM_OF_IPV4_SRC"), Field("nw_src", "nw_src", 32, K_IPV4, P_IP))
_add(("ip_dst", "NXM_OF_IP_DST", "OXM_OF_IPV4_DST"), Field("nw_dst", "nw_dst", 32, K_IPV4, P_IP))
_add(("NXM_NX_IPV6_SRC", "OXM_OF_IPV6_SRC"), Field("ipv6_src", "ipv6_src", 128, K_IPV6, P_IPV6))
_add(("NXM_NX_IPV6_DST", "OXM_OF_IPV6_DST"), Field("ipv6_dst", "ipv6_dst", 128, K_IPV6, P_IPV6))
_add(("ip_proto", "NXM_OF_IP_PROTO", "OXM_OF_IP_PROTO"),
     Field("nw_proto", "nw_proto", 8, prereq=P_IP_ANY, maskable=False))
_add(("NXM_NX_IP_TTL",), Field("nw_ttl", "nw_ttl", 8, prereq=P_IP_ANY, maskable=False))
_add(("NXM_OF_IP_TOS",), Field("nw_tos", "nw_tos", 8, prereq=P_IP_ANY, maskable=False))
_add(("OXM_OF_IP_DSCP",), Field("ip_dscp", "nw_tos", 6, prereq=P_IP_ANY, ofs=2, maskable=False))
_add(("ip_ecn", "NXM_NX_IP_ECN", "OXM_OF_IP_ECN"),
     Field("nw_ecn", "nw_ecn", 2, prereq=P_IP_ANY, maskable=False))
_add(("tcp_src", "udp_src", "sctp_src", "NXM_OF_TCP_SRC", "NXM_OF_UDP_SRC", "OXM_OF_TCP_SRC",
      "OXM_OF_UDP_SRC", "OXM_OF_SCTP_SRC"), Field("tp_src", "tp_src", 16, prereq=P_TP))
_add(("tcp_dst", "udp_dst", "sctp_dst", "NXM_OF_TCP_DST", "NXM_OF_UDP_DST", "OXM_OF_TCP_DST",
      "OXM_OF_UDP_DST", "OXM_OF_SCTP_DST"), Field("tp_dst", "tp_dst", 16, prereq=P_TP))
_add(("NXM_NX_TCP_FLAGS",), Field("tcp_flags", "tcp_flags", 12, K_TCP_FLAGS, P_TCP))
_add(("NXM_NX_IP_FRAG",), Field("nw_frag", "nw_frag", 2, K_FRAG, P_IP_ANY))
_add(("NXM_OF_ICMP_TYPE", "OXM_OF_ICMPV4_TYPE"),
     Field("icmp_type", "tp_src", 8, prereq=P_ICMP, maskable=False))
_add(("NXM_OF_ICMP_CODE", "OXM_OF_ICMPV4_CODE"),
     Field("icmp_code", "tp_dst", 8, prereq=P_ICMP, maskable=False))
_add(("NXM_NX_ICMPV6_TYPE", "OXM_OF_ICMPV6_TYPE"),
     Field("icmpv6_type", "tp_src", 8, prereq=P_ICMP6, maskable=False))
_add(("NXM_NX_ICMPV6_CODE", "OXM_OF_ICMPV6_CODE"),
     Field("icmpv6_code", "tp_dst", 8, prereq=P_ICMP6, maskable=False))
_add(("NXM_NX_ND_TARGET", "OXM_OF_IPV6_ND_TARGET"),
     Field("nd_target", "nd_target", 128, K_IPV6, P_ND))
_add(("NXM_NX_ND_SLL", "OXM_OF_IPV6_ND_SLL"), Field("nd_sll", "nd_sll", 48, K_MAC, P_ND_NS))
_add(("NXM_NX_ND_TLL", "OXM_OF_IPV6_ND_TLL"), Field("nd_tll", "nd_tll", 48, K_MAC, P_ND_NA))
_add(("tunnel_id", "NXM_NX_TUN_ID", "OXM_OF_TUNNEL_ID"), Field("tun_id", "tun_id", 64))
_add(("NXM_NX_TUN_IPV4_SRC",), Field("tun_src", "tun_src", 32, K_IPV4))
_add(("NXM_NX_TUN_IPV4_DST",), Field("tun_dst", "tun_dst", 32, K_IPV4))
_add(("OXM_OF_METADATA",), Field("metadata", "metadata", 64))
for _i in range(16):
    _add((f"NXM_NX_REG{_i}",), Field(f"reg{_i}", f"reg{_i}", 32))
_add(("NXM_NX_CT_STATE",), Field("ct_state", "ct_state", 32, K_CT_STATE))
_add(("NXM_NX_CT_ZONE",), Field("ct_zone", "ct_zone", 16, maskable=False))
_add(("NXM_NX_CT_MARK",), Field("ct_mark", "ct_mark", 32))
_add(("NXM_NX_CT_LABEL",), Field("ct_label", "ct_label", 128))
_add(("NXM_NX_CONJ_ID",), Field("conj_id", "conj_id", 32, maskable=False))
_add(("NXM_NX_PKT_MARK",), Field("pkt_mark", "pkt_mark", 32))

CT_STATE_FLAGS: dict[str, int] = {
    "new": 0x01, "est": 0x02, "rel": 0x04, "rpl": 0x08, "inv": 0x10, "trk": 0x20,
    "snat": 0x40, "dnat": 0x80,
}


def ct_state_bits(text: str) -> int:
    """ct_state flags as ``ofproto/trace --ct-next`` takes them (``trk,est``, ``+trk+est``)."""
    bits = 0
    for word in (w for w in text.replace("+", ",").replace("|", ",").split(",") if w):
        bit = CT_STATE_FLAGS.get(word.strip().lower())
        if bit is None:
            raise FieldValueError(f"unknown conntrack flag {word[:20]!r}")
        bits |= bit
    return bits


TCP_FLAGS: dict[str, int] = {
    "fin": 0x001, "syn": 0x002, "rst": 0x004, "psh": 0x008, "ack": 0x010, "urg": 0x020,
    "ece": 0x040, "cwr": 0x080, "ns": 0x100,
}

# Reserved OpenFlow ports (OF1.0 numbering, as OVS shows them)
OFPP_IN_PORT = 0xFFF8
OFPP_TABLE = 0xFFF9
OFPP_NORMAL = 0xFFFA
OFPP_FLOOD = 0xFFFB
OFPP_ALL = 0xFFFC
OFPP_CONTROLLER = 0xFFFD
OFPP_LOCAL = 0xFFFE
OFPP_NONE = 0xFFFF
RESERVED_PORTS: dict[str, int] = {
    "in_port": OFPP_IN_PORT, "table": OFPP_TABLE, "normal": OFPP_NORMAL, "flood": OFPP_FLOOD,
    "all": OFPP_ALL, "controller": OFPP_CONTROLLER, "local": OFPP_LOCAL, "none": OFPP_NONE,
    "any": OFPP_NONE,
}

PortResolver = Callable[[str], "int | None"]


class FieldValueError(ValueError):
    """A value that does not fit its field (message says what is expected)."""


def lookup(name: str) -> Field | None:
    """The field called ``name`` (any ovs-fields(7) synonym, NXM/OXM name, any case)."""
    return FIELDS.get(name) or FIELDS.get(name.lower())


#: How ovs-ofctl reads a number (strtoull): BASE0 is ``0x`` hex, a leading ``0`` octal, else
#: decimal (match values, priority, cookie, load, set_field, mod_vlan_vid...); DECIMAL ignores
#: leading zeros (ports, table numbers, resubmit, learn's table and priority, NAT ports, prefix
#: lengths). Both take an optional ``+``; only ASCII digits count.
BASE0 = 0
DECIMAL = 10
_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 10: re.compile(r"[0-9]+")}
_MAX_DECIMAL_DIGITS = 40  # past every field's width; keeps int() far from its 4,300-digit limit


def short(text: str, limit: int = 60) -> str:
    """``text`` for a message: its repr, cut to ``limit`` characters."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


def read_uint(text: str, base: int = BASE0) -> int:
    """An unsigned number as ovs-ofctl reads it (see `BASE0`/`DECIMAL`); raises FieldValueError
    for anything else (a sign other than ``+``, Unicode digits, spaces, ``0b``/``0o``/``_``)."""
    t = text[1:] if text[:1] == "+" else text
    radix = 10
    if t[:2] in ("0x", "0X") and base == BASE0:
        t, radix = t[2:], 16
    elif base == BASE0 and len(t) > 1 and t[0] == "0":
        t, radix = t[1:], 8
    if not t.isascii() or _DIGITS[radix].fullmatch(t) is None:
        kind = {16: "hexadecimal", 8: "octal (it starts with 0)", 10: "decimal"}[radix]
        raise FieldValueError(f"{short(text)} is not a {kind} number"
                              + (" (write 12 or 0x1f)" if base == BASE0 else " (write 12)"))
    if radix == 10:
        t = t.lstrip("0") or "0"
        if len(t) > _MAX_DECIMAL_DIGITS:
            raise FieldValueError(f"{short(text)} is too large")
    return int(t, radix)  # hex and octal are not bound by int()'s digit limit


def parse_int(text: str) -> int:
    """A match or action value: ``12``, ``0x1f``, ``010`` (octal, as ovs-ofctl reads it)."""
    return read_uint(text, BASE0)


def is_decimal(text: str) -> bool:
    """True for a non-empty run of ASCII digits (``str.isdigit`` also takes ``²`` and ``٣``)."""
    return text.isascii() and text.isdigit()


def mac_to_int(text: str) -> int:
    parts = text.split(":")
    if len(parts) != 6 or len(text) > 64:
        raise FieldValueError(f"{short(text)} is not a MAC address (write fa:16:3e:00:00:01)")
    out = 0
    for p in parts:
        # ovs-ofctl reads each byte with %hhx: leading zeros are fine (00:001 is 0x01)
        if not p or not p.isascii() or _DIGITS[16].fullmatch(p) is None or int(p, 16) > 255:
            raise FieldValueError(f"{short(text)} is not a MAC address (write fa:16:3e:00:00:01)")
        out = (out << 8) | int(p, 16)
    return out


def int_to_mac(value: int) -> str:
    raw = f"{value & 0xFFFFFFFFFFFF:012x}"
    return f"{raw[0:2]}:{raw[2:4]}:{raw[4:6]}:{raw[6:8]}:{raw[8:10]}:{raw[10:12]}"


def ipv4_to_int(text: str) -> int:
    """Dotted quad, each part decimal 0..255 (ovs-ofctl reads ``01.02.03.010`` as 1.2.3.10;
    ``0x7f.1.1.1``, ``1.2.3`` and Unicode digits are refused, as OVS refuses them)."""
    parts = text.split(".")
    if len(parts) != 4 or len(text) > 64 or not all(
            1 <= len(p.lstrip("+")) and is_decimal(p.removeprefix("+")) for p in parts):
        raise FieldValueError(f"{short(text)} is not an IPv4 address")
    out = 0
    for p in parts:
        b = int(p.removeprefix("+"))
        if b > 255:
            raise FieldValueError(f"{short(text)} is not an IPv4 address ({p} is past 255)")
        out = (out << 8) | b
    return out


def int_to_ipv4(value: int) -> str:
    return socket.inet_ntoa((value & 0xFFFFFFFF).to_bytes(4, "big"))


def ipv6_to_int(text: str) -> int:
    try:
        if not text.isascii() or "\x00" in text or len(text) > 64:
            raise OSError
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        raise FieldValueError(f"{short(text)} is not an IPv6 address") from None


def int_to_ipv6(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


def slot_to_int(slot: str, value: object) -> int:
    """A Packet attribute's value as the engine's integer (``""`` -> 0)."""
    if isinstance(value, int):
        return value
    if not value:
        return 0
    text = str(value)
    if slot in MAC_SLOTS:
        return mac_to_int(text)
    if slot in IPV4_SLOTS:
        return ipv4_to_int(text)
    if slot in IPV6_SLOTS:
        return ipv6_to_int(text)
    raise FieldValueError(f"{slot}: cannot convert {value!r}")


def int_to_slot(slot: str, value: int) -> object:
    """The engine's integer as a Packet attribute's value."""
    if slot in MAC_SLOTS:
        return int_to_mac(value) if value else ""
    if slot in IPV4_SLOTS:
        return int_to_ipv4(value) if value else ""
    if slot in IPV6_SLOTS:
        return int_to_ipv6(value) if value else ""
    return value


def _flags(text: str, table: dict[str, int], what: str) -> tuple[int, int]:
    value = mask = 0
    for sign, name in re.findall(r"([+-])([a-z]+)", text):
        bit = table.get(name)
        if bit is None:
            raise FieldValueError(
                f"unknown {what} flag {short(name)} (known: {', '.join(table)})"
            )
        mask |= bit
        if sign == "+":
            value |= bit
    if re.sub(r"[+-][a-z]+", "", text):
        raise FieldValueError(f"{short(text)}: write {what} as +flag-flag or 0xVALUE/0xMASK")
    return value, mask


def parse_value(field: Field, text: str, ports: PortResolver | None = None) -> tuple[int, int]:
    """``text`` (``value`` or ``value/mask``) as (value, mask) of the field's own bits (not shifted
    to its offset). The mask is all ones when none is written."""
    full = (1 << field.nbits) - 1
    kind = field.kind
    if kind == K_PORT:
        return parse_port(text, ports), full
    if kind == K_CT_STATE and text[:1] in "+-":
        return _flags(text, CT_STATE_FLAGS, "ct_state")
    if kind == K_TCP_FLAGS and text[:1] in "+-":
        return _flags(text, TCP_FLAGS, "tcp_flags")
    if kind == K_FRAG and text in FRAG_WORDS:
        return FRAG_WORDS[text]
    value_text, slash, mask_text = text.partition("/")
    if slash and not field.maskable:
        raise FieldValueError(f"{field.name} cannot be masked")
    if kind == K_MAC:
        v = mac_to_int(value_text)
        m = mac_to_int(mask_text) if slash else full
    elif kind in (K_IPV4, K_IPV6):
        conv = ipv4_to_int if kind == K_IPV4 else ipv6_to_int
        v = conv(value_text)
        if not slash:
            m = full
        elif ":" not in mask_text and "." not in mask_text:
            plen = read_uint(mask_text, DECIMAL)
            if plen > field.nbits:
                raise FieldValueError(f"/{short(mask_text)} is longer than {field.nbits} bits")
            m = full ^ ((1 << (field.nbits - plen)) - 1)
        else:
            m = conv(mask_text)
    else:
        v = parse_int(value_text)
        m = parse_int(mask_text) if slash else full
    if kind == K_DL_VLAN and v == 0xFFFF:
        return v, 0xFFFF  # OFP10_VLAN_NONE: no 802.1Q header
    if v > full:
        raise FieldValueError(f"{short(text)} does not fit the {field.nbits}-bit field "
                              f"{field.name}")
    if m > full:
        raise FieldValueError(f"the mask of {short(text)} does not fit the {field.nbits}-bit "
                              f"field {field.name}")
    return v & m & full, m & full


def parse_port(text: str, ports: PortResolver | None = None) -> int:
    """An OpenFlow port: a number, a reserved name (LOCAL, IN_PORT, NORMAL...) or a port name
    (resolved with ``ports``, quotes allowed)."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] == '"':
        t = t[1:-1]
    if is_decimal(t.removeprefix("+")):  # decimal, as ovs-ofctl reads a port (07 is 7)
        n = read_uint(t, DECIMAL)
        if n > OFPP_NONE:
            raise FieldValueError(f"port {short(t)} is past {OFPP_NONE} (OpenFlow 1.0 numbering)")
        return n
    if not t or not t.isprintable() or any(c.isdigit() for c in t if not c.isascii()):
        raise FieldValueError(f"{short(text)} is not a port number or name")
    reserved = RESERVED_PORTS.get(t.lower())
    if reserved is not None:
        return reserved
    if ports is not None:
        found = ports(t)
        if found is not None:
            return found
    raise FieldValueError(f"{short(text)} is not a port of this bridge (use its ofport or name)")


@dataclass(frozen=True, slots=True)
class Subfield:
    """``NXM_NX_REG0[0..15]``: a bit range of a field (``start``/``nbits`` within the field)."""

    field: Field
    start: int
    nbits: int
    shift: int = dc_field(init=False, compare=False, repr=False)  # first bit in the slot
    slot_mask: int = dc_field(init=False, compare=False, repr=False)  # these bits in the slot

    def __post_init__(self) -> None:
        shift = self.field.ofs + self.start
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "slot_mask", ((1 << self.nbits) - 1) << shift)

    def __str__(self) -> str:
        return self.format(self.field.name)

    def nxm(self) -> str:
        """As OVS prints it in actions: ``NXM_NX_REG0[0..15]``."""
        return self.format(NXM_NAMES.get(self.field.name, self.field.name))

    def format(self, name: str) -> str:
        if self.start == 0 and self.nbits == self.field.nbits:
            return f"{name}[]"
        if self.nbits == 1:
            return f"{name}[{self.start}]"
        return f"{name}[{self.start}..{self.start + self.nbits - 1}]"


_SUBFIELD_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]{0,4})(?:\.\.([0-9]{1,4}))?\])?")


def parse_subfield(text: str, *, require_brackets: bool = False) -> Subfield:
    """``NXM_NX_REG0[0..15]``, ``reg0[]``, ``vlan_tci[0..11]``, ``tun_id`` (whole field)."""
    m = _SUBFIELD_RE.fullmatch(text.strip())
    if not m:
        raise FieldValueError(f"{short(text)} is not a field or subfield (write "
                              "NXM_NX_REG0[0..15])")
    name, start, end = m.group(1), m.group(2), m.group(3)
    field = lookup(name)
    if field is None:
        raise FieldValueError(f"unknown field {short(name)} in {short(text)}")
    if require_brackets and "[" not in text:
        raise FieldValueError(f"{short(text)}: write the field as {name}[] or {name}[start..end]")
    if not start:
        if end is not None:
            raise FieldValueError(f"{short(text)}: bad bit range")
        return Subfield(field, 0, field.nbits)
    s = int(start)
    e = int(end) if end is not None else s
    if e < s or e >= field.nbits:
        raise FieldValueError(f"{short(text)}: bits {s}..{e} are outside the {field.nbits}-bit "
                              "field")
    return Subfield(field, s, e - s + 1)
