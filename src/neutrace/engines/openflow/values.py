"""A packet as the OpenFlow engine's integers (layer 3): OVS's ``struct flow`` and meta-flow.

The engine keeps a packet as a list of ints, one per slot of ``neutrace.syntax.offields.SLOTS``
(the packet's header fields in `Packet`'s order, then in_port, registers, metadata, tunnel and
conntrack fields). `packet_values` and `values_packet` convert between the two; `diff` says which
fields an action changed, as `FieldChange`s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import lru_cache

from neutrace.packet import FieldChange, Packet
from neutrace.syntax import offields as F

_S = F.SLOT_INDEX
I_IN_PORT = _S["in_port"]
I_DL_SRC = _S["dl_src"]
I_DL_DST = _S["dl_dst"]
I_DL_TYPE = _S["dl_type"]
I_VLAN = _S["vlan_tci"]
I_NW_PROTO = _S["nw_proto"]
I_NW_SRC = _S["nw_src"]
I_NW_DST = _S["nw_dst"]
I_IPV6_SRC = _S["ipv6_src"]
I_IPV6_DST = _S["ipv6_dst"]
I_NW_TTL = _S["nw_ttl"]
I_TP_SRC = _S["tp_src"]
I_TP_DST = _S["tp_dst"]
I_TUN_ID = _S["tun_id"]
I_TUN_SRC = _S["tun_src"]
I_TUN_DST = _S["tun_dst"]
I_METADATA = _S["metadata"]
I_CT_STATE = _S["ct_state"]
I_CT_ZONE = _S["ct_zone"]
I_CT_MARK = _S["ct_mark"]
I_CT_LABEL = _S["ct_label"]
I_CONJ_ID = _S["conj_id"]
I_NW_FRAG = _S["nw_frag"]
N_PACKET = len(F.PACKET_SLOTS)
N_SLOTS = len(F.SLOTS)

CT_NEW, CT_EST, CT_REL, CT_RPL, CT_INV, CT_TRK, CT_SNAT, CT_DNAT = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80)
VLAN_CFI = 0x1000
VLAN_VID_MASK = 0x0FFF
OFPP_LOCAL = F.OFPP_LOCAL

Values = list[int]
Match = tuple[tuple[int, int, int], ...]  # (slot index, value, mask), sorted by slot

_PACKET_SLOTS = F.PACKET_SLOTS


@lru_cache(maxsize=16384)
def mac_int(text: str) -> int:
    """``fa:16:3e:...`` as an int (cached: the same MACs come back all the time)."""
    return F.mac_to_int(text)


@lru_cache(maxsize=16384)
def mac_text(value: int) -> str:
    """An int MAC as ``fa:16:3e:...`` (cached)."""
    return F.int_to_mac(value)


@lru_cache(maxsize=16384)
def ipv4_int(text: str) -> int:
    """A dotted IPv4 address as an int (cached)."""
    return F.ipv4_to_int(text)


@lru_cache(maxsize=4096)
def ipv6_int(text: str) -> int:
    """An IPv6 address as an int (cached)."""
    return F.ipv6_to_int(text)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Packet))
assert FIELD_NAMES[:N_PACKET] == _PACKET_SLOTS  # Packet's fields in slot order, then payload
_TO_INT = tuple(
    mac_int if s in F.MAC_SLOTS else ipv4_int if s in F.IPV4_SLOTS
    else ipv6_int if s in F.IPV6_SLOTS else None for s in _PACKET_SLOTS
)
_FROM_INT = tuple(
    F.int_to_mac if s in F.MAC_SLOTS else F.int_to_ipv4 if s in F.IPV4_SLOTS
    else F.int_to_ipv6 if s in F.IPV6_SLOTS else None for s in _PACKET_SLOTS
)


def packet_values(packet: Packet, in_port: int) -> Values:
    """The packet's fields as the engine's integers (slot order), with in_port."""
    v: Values = [0] * N_SLOTS
    get = packet.__getattribute__
    for i, name in enumerate(_PACKET_SLOTS):
        x = get(name)
        conv = _TO_INT[i]
        v[i] = (conv(x) if x else 0) if conv is not None else x
    v[I_IN_PORT] = in_port
    return v


def values_packet(base: Packet, base_v: Values, v: Values,
                  base_args: list[object] | None = None) -> Packet:
    """``base`` with the fields that differ between ``base_v`` and ``v`` rewritten
    (``base_args``: base's field values in order, when the caller has them)."""
    if v[:N_PACKET] == base_v[:N_PACKET]:
        return base
    args = list(base_args) if base_args is not None else [
        base.__getattribute__(n) for n in FIELD_NAMES]
    for i in range(N_PACKET):
        x = v[i]
        if x != base_v[i]:
            conv = _FROM_INT[i]
            args[i] = (conv(x) if x else "") if conv is not None else x
    return Packet(*args)  # type: ignore[arg-type]


def show_value(slot: str, value: int) -> object:
    """A slot's value as a `FieldChange` shows it (addresses as text, the rest as ints)."""
    if slot in ("vlan_tci", "tun_id", "metadata", "ct_state", "ct_mark") or slot.startswith("reg"):
        return value
    return F.int_to_slot(slot, value) if slot in _PACKET_SLOTS else value


def change(idx: int, old: int, new: int) -> FieldChange:
    """Slot ``idx`` set from ``old`` to ``new``."""
    name = F.SLOTS[idx]
    return FieldChange(name, show_value(name, old), show_value(name, new))


def diff(before: Values, after: Values,
         slots: Iterable[int] = range(N_SLOTS)) -> tuple[FieldChange, ...]:
    """The fields that differ (only ``slots`` are compared when given)."""
    out = []
    for i in slots:
        if before[i] != after[i]:
            if F.SLOTS[i] == "conj_id":
                continue
            out.append(change(i, before[i], after[i]))
    return tuple(out)
