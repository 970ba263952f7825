"""The openvswitch firewall's flow parameters as Open vSwitch prints them (layer 3).

The driver builds each flow as keyword parameters (``table``, ``priority``, ``reg_port``,
``dl_type``, ``nw_proto``, ``tcp_dst``... and an ``actions`` string), exactly as Neutron's
``OVSFirewallDriver._add_flow`` receives them, and hands them to ``ovs-ofctl add-flows``. What
ends up on the bridge is what OVS makes of that text; `to_flow` writes it the way
``ovs-ofctl -O OpenFlow13 dump-flows`` prints it (``lib/match.c: match_format``), so that our
flows load into OVS and dump back unchanged:

- fields in OVS's order (``conj_id``, ``ct_state``, ``ct_zone``, ``ct_mark``, the protocol
  shorthand, registers, ``in_port``, VLAN, MACs, L3 addresses, ``nw_proto`` when no shorthand
  says it, ICMP type/code, ``nd_target``, L4 ports);
- ``dl_type``/``nw_proto`` as ``ip``, ``tcp6``, ``icmp6``, ``arp``, ``rarp``...;
  ``reg_port``/``reg_net``/``reg_remote_group`` as ``reg5``/``reg6``/``reg7``;
- values as OVS prints them: registers and ``ct_mark`` in hex (0 as ``0``), ``ct_state`` flags
  in bit order, host prefixes without their length, ``/0`` prefixes and zero masks left out,
  exact L4 ports in decimal, masked ones as ``0x3f0/0xfff0``;
- actions: ``set_field:<n>->regN`` with the value in hex, ``strip_vlan`` as ``pop_vlan``,
  ``normal`` as ``NORMAL`` (the OpenFlow 1.3 spelling of what Neutron's OpenFlow 1.0 add wrote).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping

from neutrace import addr
from neutrace.agents.openvswitch_firewall import constants as fc
from neutrace.syntax.ofactions import split_action_list

FlowParams = dict[str, object]
Match = tuple[tuple[str, str], ...]

_REG_NAMES = {"reg_port": f"reg{fc.REG_PORT}", "reg_net": f"reg{fc.REG_NET}",
              "reg_remote_group": f"reg{fc.REG_REMOTE_GROUP}"}
_SHORTHAND = {
    (fc.ETHERTYPE_IP, None): "ip", (fc.ETHERTYPE_IPV6, None): "ipv6",
    (fc.ETHERTYPE_IP, fc.PROTO_NUM_ICMP): "icmp", (fc.ETHERTYPE_IP, fc.PROTO_NUM_TCP): "tcp",
    (fc.ETHERTYPE_IP, fc.PROTO_NUM_UDP): "udp", (fc.ETHERTYPE_IP, fc.PROTO_NUM_SCTP): "sctp",
    (fc.ETHERTYPE_IPV6, fc.PROTO_NUM_IPV6_ICMP): "icmp6",
    (fc.ETHERTYPE_IPV6, fc.PROTO_NUM_TCP): "tcp6", (fc.ETHERTYPE_IPV6, fc.PROTO_NUM_UDP): "udp6",
    (fc.ETHERTYPE_IPV6, fc.PROTO_NUM_SCTP): "sctp6",
    (fc.ETHERTYPE_ARP, None): "arp", (fc.ETHERTYPE_RARP, None): "rarp",
}
# match_format's order for the fields the driver uses (after conj_id/ct_* and the protocol)
_ORDER = ("conj_id", "ct_state", "ct_zone", "ct_mark", "<proto>",
          *(f"reg{i}" for i in range(16)), "in_port", "dl_vlan", "vlan_tci", "dl_src", "dl_dst",
          "dl_type", "ipv6_src", "ipv6_dst", "arp_spa", "arp_tpa", "nw_src", "nw_dst",
          "nw_proto", "icmp_type", "icmp_code", "nd_target", "tp_src", "tp_dst")
_RANK = {name: i for i, name in enumerate(_ORDER)}
_CT_BITS = ("new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat")
_L4_ALIASES = {f"{p}_{d}": f"tp_{d}" for p in ("tcp", "udp", "sctp") for d in ("src", "dst")}
_SET_REG = re.compile(r"set_field:(\d+)->reg(\d+)")


def _int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value), 0)


def _hex(value: int) -> str:
    """``%#x`` as OVS's format_uint32_masked prints it (0 without the 0x)."""
    return f"{value:#x}" if value else "0"


@functools.lru_cache(maxsize=1024)
def ct_state_text(text: str) -> str:
    """``+trk+inv`` -> ``+inv+trk``: OVS prints conntrack flags in bit order."""
    flags = dict((m.group(2), m.group(1)) for m in re.finditer(r"([+-])([a-z]+)", text))
    return "".join(f"{flags[b]}{b}" for b in _CT_BITS if b in flags)


def _ip(value: object) -> str | None:
    """An address or prefix as OVS prints it; None for a /0 (no match at all)."""
    return _ip_text(str(value))


@functools.lru_cache(maxsize=1 << 16)
def _ip_text(value: str) -> str | None:
    net = ipaddress.ip_network(value, strict=False)
    if net.prefixlen == 0:
        return None
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return f"{net.network_address}/{net.prefixlen}"


def _l4(value: object) -> str | None:
    """An L4 port (``22``) or ``port/mask`` (``0x03f0/0xfff0``) as OVS prints it."""
    text = str(value)
    if "/" not in text:
        return str(_int(text))
    port, mask = (_int(p) for p in text.split("/"))
    if mask == 0:
        return None
    if mask == 0xFFFF:
        return str(port)
    return f"{port & mask:#x}/{mask:#x}"


def _value(name: str, value: object) -> str | None:
    if name.startswith("reg"):
        return _hex(_int(value))
    if name == "ct_mark":
        return _hex(_int(value))
    if name == "ct_state":
        return ct_state_text(str(value))
    if name in ("ct_zone", "conj_id", "dl_vlan", "in_port", "icmp_type", "icmp_code",
                "nw_proto"):
        return str(_int(value))
    if name in ("dl_src", "dl_dst"):
        return addr.norm_mac(str(value))
    if name in ("nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "arp_spa", "arp_tpa", "nd_target"):
        return _ip(value)
    if name in ("tp_src", "tp_dst"):
        return _l4(value)
    return str(value)


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _value_of(name: str, value: int | str) -> str | None:
    """``_value`` of a hashable value, remembered (hosts repeat the same registers, states,
    addresses)."""
    return _value(name, value)


def to_match(params: Mapping[str, object]) -> Match:
    """The match of a flow's parameters, as ``dump-flows`` prints it."""
    fields: dict[str, str] = {}
    dl_type = params.get("dl_type")
    proto = params.get("nw_proto")
    shorthand = None
    if dl_type is not None:
        dl = _int(dl_type)
        nw = _int(proto) if proto is not None else None
        shorthand = _SHORTHAND.get((dl, nw))
        if shorthand is None and nw is not None:
            shorthand = _SHORTHAND.get((dl, None))
            if shorthand is not None:
                fields["nw_proto"] = str(nw)
        if shorthand is None:
            fields["dl_type"] = f"0x{dl:04x}"
    for key, value in params.items():
        if key in ("table", "priority", "actions", "dl_type", "nw_proto", "cookie"):
            continue
        name = _REG_NAMES.get(key) or _L4_ALIASES.get(key) or key
        if name not in _RANK:
            raise ValueError(f"no OVS print order known for match field {key!r}")
        text = _value_of(name, value) if isinstance(value, int | str) else _value(name, value)
        if text is not None:
            fields[name] = text
    out = [(name, fields[name]) for name in sorted(fields, key=_RANK.__getitem__)]
    if shorthand is not None:
        at = next((i for i, (n, _v) in enumerate(out) if _RANK[n] > _RANK["<proto>"]), len(out))
        out.insert(at, (shorthand, ""))
    return tuple(out)


@functools.lru_cache(maxsize=1 << 14)
def to_actions(actions: str) -> str:
    """Neutron's action text as OVS prints it back over OpenFlow 1.3."""
    text = _SET_REG.sub(lambda m: f"set_field:{int(m.group(1)):#x}->reg{m.group(2)}", actions)
    parts = [{"strip_vlan": "pop_vlan", "normal": "NORMAL"}.get(p, p)
             for p in split_action_list(text)]
    return ",".join(parts)
