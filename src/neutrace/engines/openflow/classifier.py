"""The flow tables (layer 3): OVS's tuple-space classifier (``lib/classifier.c``).

`compile_match` turns a flow's match into sorted (slot, value, mask) triples, normalised as OVS
does (synonyms, dl_vlan/dl_vlan_pcp, ``arp`` + ``nw_src`` = ``arp_spa``, fields whose
prerequisites are not met are ignored: `ignored_match_fields`). A `Table` holds one table's
flows in subtables of flows that match the same fields with the same masks, each a hash from the
masked packet values to the flows, visited by decreasing maximum priority; conjunctive-clause
flows (``conjunction()`` only) are kept apart. `LearnedRule` is a flow learn() added (learned
tables are small and scanned linearly).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from neutrace.dataplane import Flow
from neutrace.engines.openflow.values import (
    I_DL_TYPE,
    I_NW_PROTO,
    VLAN_CFI,
    VLAN_VID_MASK,
    Match,
    Values,
)
from neutrace.errors import SyntaxParseError
from neutrace.syntax import offields as F


class LearnedRule:
    """A flow added by learn(): the Flow and its compiled match (learned tables are small and
    scanned linearly)."""

    __slots__ = ("flow", "priority", "match")

    def __init__(self, flow: Flow, match: Match) -> None:
        """The learned ``flow`` and its compiled ``match``."""
        self.flow = flow
        self.priority = flow.priority
        self.match = match

    def matches(self, v: Values) -> bool:
        """True if ``v`` matches every (slot, value, mask) of the rule."""
        for i, val, mask in self.match:
            if v[i] & mask != val:
                return False
        return True


_CONJ_ONLY = re.compile(r"conjunction\([^()]*\)(?:,conjunction\([^()]*\))*")


def _is_conjunctive(flow: Flow) -> bool:
    """A flow whose actions are all conjunction(): a clause of a conjunctive match."""
    return _CONJ_ONLY.fullmatch(flow.actions) is not None


Key = tuple[int, ...] | int  # a subtable's key: the masked values (one field: the int itself)


def _key_function(sig: tuple[tuple[int, int], ...]) -> Callable[[Values], Key]:
    """``lambda v: (v[3] & 4095, v[1])`` for a subtable's fields and masks (one field: no
    tuple, to keep the hash keys small)."""
    if not sig:
        return lambda v: ()
    parts = ", ".join(f"v[{i}] & {m}" for i, m in sig)
    body = parts if len(sig) == 1 else f"({parts},)"
    fn: Callable[[Values], Key] = eval(f"lambda v: {body}")  # noqa: S307
    return fn


Bucket = Flow | list[Flow]


class Subtable:
    """Flows matching the same fields with the same masks: masked packet values -> flow(s)
    (a single Flow, or a list by decreasing priority)."""

    __slots__ = ("sig", "key", "rules", "max_priority")

    def __init__(self, sig: tuple[tuple[int, int], ...]) -> None:
        """An empty subtable for the fields and masks ``sig``."""
        self.sig = sig
        self.key = _key_function(sig)
        self.rules: dict[Key, Bucket] = {}
        self.max_priority = -1

    def add(self, key: Key, flow: Flow) -> None:
        """Add a flow (the caller has already let a later flow with the same priority and
        match replace an earlier one)."""
        cur = self.rules.get(key)
        if cur is None:
            self.rules[key] = flow
        else:
            bucket = [cur] if isinstance(cur, Flow) else cur
            bucket.append(flow)
            bucket.sort(key=lambda f: -f.priority)
            self.rules[key] = bucket
        if flow.priority > self.max_priority:
            self.max_priority = flow.priority


class Table:
    """The flows of one table: ordinary flows and conjunctive-clause flows, each in subtables
    visited by decreasing maximum priority (OVS's tuple space search)."""

    __slots__ = ("plain", "conj")

    def __init__(self, flows: Iterable[Flow], ports: Callable[[str], int | None] | None,
                 source: str) -> None:
        """Compile ``flows`` (ports resolved by ``ports``; errors name ``source``)."""
        plain: dict[tuple[tuple[int, int], ...], Subtable] = {}
        conj: dict[tuple[tuple[int, int], ...], Subtable] = {}
        compiled: dict[tuple[int, tuple[tuple[int, int], ...], Key], Flow] = {}
        for f in flows:
            sig, key = _sig_key(compile_match(f.match, ports, source)[0])
            # a flow with the same priority and match as an earlier one replaces it (add-flows)
            compiled[(f.priority, sig, key)] = f
        for (_, sig, key), f in compiled.items():
            is_conj = f.actions.startswith("conjunction(") and _is_conjunctive(f)
            target = conj if is_conj else plain
            st = target.get(sig)
            if st is None:
                st = target[sig] = Subtable(sig)
            st.add(key, f)
        self.plain = sorted(plain.values(), key=lambda s: -s.max_priority)
        self.conj = sorted(conj.values(), key=lambda s: -s.max_priority)

    def lookup(self, v: Values, floor: int = -1) -> Flow | None:
        """The highest-priority plain flow matching ``v`` above ``floor``."""
        best: Flow | None = None
        bp = floor
        for st in self.plain:
            if st.max_priority <= bp:
                break
            bucket = st.rules.get(st.key(v))
            if bucket is not None:
                f = bucket if isinstance(bucket, Flow) else bucket[0]
                if f.priority > bp:
                    best = f
                    bp = f.priority
        return best

    def conj_matches(self, v: Values, floor: int) -> list[Flow]:
        """The conjunctive-clause flows matching ``v`` above ``floor``."""
        out: list[Flow] = []
        for st in self.conj:
            if st.max_priority <= floor:
                break
            bucket = st.rules.get(st.key(v))
            if bucket is not None:
                for f in [bucket] if isinstance(bucket, Flow) else bucket:
                    if f.priority > floor:
                        out.append(f)
        return out


# -- compiling a flow's match -----------------------------------------------------------------


def prereq_ok(prereq: str, dl_type: int | None, nw_proto: int | None,
               icmp_type: int | None) -> bool:
    """True if a field with prerequisite ``prereq`` applies to this packet type."""
    if not prereq:
        return True
    if prereq == F.P_VLAN:
        return True
    if prereq == F.P_ARP:
        return dl_type in (F.ETH_TYPE_ARP, F.ETH_TYPE_RARP)
    if prereq == F.P_IP:
        return dl_type == F.ETH_TYPE_IP
    if prereq == F.P_IPV6:
        return dl_type == F.ETH_TYPE_IPV6
    ip_any = dl_type in (F.ETH_TYPE_IP, F.ETH_TYPE_IPV6)
    if prereq == F.P_IP_ANY:
        return ip_any
    if prereq == F.P_TCP:
        return ip_any and nw_proto == 6
    if prereq == F.P_UDP:
        return ip_any and nw_proto == 17
    if prereq == F.P_SCTP:
        return ip_any and nw_proto == 132
    if prereq == F.P_TP:
        return ip_any and nw_proto in (6, 17, 132)
    if prereq == F.P_ICMP:
        return dl_type == F.ETH_TYPE_IP and nw_proto == 1
    if prereq == F.P_ICMP6:
        return dl_type == F.ETH_TYPE_IPV6 and nw_proto == 58
    if prereq == F.P_ND:
        return dl_type == F.ETH_TYPE_IPV6 and nw_proto == 58 and icmp_type in (135, 136)
    if prereq == F.P_ND_NS:
        return dl_type == F.ETH_TYPE_IPV6 and nw_proto == 58 and icmp_type == 135
    if prereq == F.P_ND_NA:
        return dl_type == F.ETH_TYPE_IPV6 and nw_proto == 58 and icmp_type == 136
    return False


def strip_quotes(text: str) -> str:
    """``"name"`` without its quotes (a port name ovs-ofctl quoted)."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


_PAIRS: dict[tuple[str, str], tuple[int, object, int, int]] = {}
_PAIRS_LIMIT = 1 << 18
_INTS: dict[int, int] = {}  # while a table is compiled: equal key values share one int
_P_PROTO, _P_FIELD, _P_SKIP = 0, 1, 2
_ARP_REMAP = {"nw_src": "arp_spa", "nw_dst": "arp_tpa", "nw_proto": "arp_op"}


def _pair(key: str, value: str, source: str) -> tuple[int, object, int, int]:
    """What one match pair means out of context: a protocol shorthand (dl_type, nw_proto), or a
    field with its value and mask in the field's own bits."""
    proto = F.PROTOCOLS.get(key)
    if proto is not None:
        return (_P_PROTO, None, proto[0], -1 if proto[1] is None else proto[1])
    if key == "eth":
        return (_P_SKIP, None, 0, 0)
    field = F.lookup(key)
    if field is None:
        raise SyntaxParseError(source, "match", f"unknown match field {key}",
                               "use a field from ovs-fields(7)")
    if field.kind == F.K_PORT:
        return (_P_FIELD, field, -1, 0)  # resolved per bridge
    try:
        val, mask = F.parse_value(field, value)
    except F.FieldValueError as e:
        raise SyntaxParseError(source, "match", f"{key}={value}: {e}",
                               "fix the value (see ovs-fields(7))") from None
    return (_P_FIELD, field, val, mask)


def compile_match(
    match: Sequence[tuple[str, str]], ports: Callable[[str], int | None] | None = None,
    source: str = "<flow>",
) -> tuple[Match, tuple[str, ...]]:
    """A flow's match as sorted (slot, value, mask) triples, normalised as OVS does (synonyms,
    dl_vlan/dl_vlan_pcp, ``arp`` + ``nw_src`` = ``arp_spa``, fields whose prerequisites are not
    met are ignored and returned in the second item)."""
    dl_type: int | None = None
    nw_proto: int | None = None
    icmp_type: int | None = None
    fields: list[tuple[F.Field, int, int, str]] = []
    cache = _PAIRS
    for pair in match:
        c = cache.get(pair)
        if c is None:
            c = _pair(pair[0], pair[1], source)
            if len(cache) < _PAIRS_LIMIT:
                cache[pair] = c
        kind, field, val, mask = c
        if kind == _P_PROTO:
            dl_type = val
            if mask >= 0:
                nw_proto = mask
            continue
        if kind == _P_SKIP:
            continue
        assert isinstance(field, F.Field)
        slot = field.slot
        if slot == "dl_type":
            dl_type = val
            continue
        if slot == "nw_proto" and field.name == "nw_proto":
            nw_proto = val
        fields.append((field, val, mask, pair[1]))
    if nw_proto == 58 or nw_proto == 1:
        for field, val, _, _ in fields:
            if field.slot == "tp_src" and field.kind == F.K_INT:
                icmp_type = val
    slots: dict[int, list[int]] = {}
    ignored: list[str] = []
    arp = dl_type == F.ETH_TYPE_ARP or dl_type == F.ETH_TYPE_RARP
    if dl_type is not None:
        slots[I_DL_TYPE] = [dl_type, 0xFFFF]
    if nw_proto is not None and not arp:
        if dl_type == F.ETH_TYPE_IP or dl_type == F.ETH_TYPE_IPV6:
            slots[I_NW_PROTO] = [nw_proto, 0xFF]
        else:
            ignored.append("nw_proto")
    for field, val, mask, text in fields:
        name = field.name
        if arp and name in _ARP_REMAP:
            # OpenFlow 1.0: nw_src/nw_dst/nw_proto of an ARP flow are arp_spa/arp_tpa/arp_op
            full = mask == (1 << field.nbits) - 1
            field = F.FIELDS[_ARP_REMAP[name]]
            name = field.name
            if full:
                mask = (1 << field.nbits) - 1
        elif name == "nw_proto":
            continue
        if nw_proto == 58 and name in ("icmp_type", "icmp_code"):
            field = F.FIELDS["icmpv6_" + name[5:]]  # OVS reads icmp_type of icmp6 so
        elif nw_proto in (1, 58) and name in ("tp_src", "tp_dst"):
            field = F.FIELDS[("icmp_" if nw_proto == 1 else "icmpv6_")
                             + ("type" if name == "tp_src" else "code")]
            mask &= 0xFF
        if field.prereq and not prereq_ok(field.prereq, dl_type, nw_proto, icmp_type):
            ignored.append(name)
            continue
        fkind = field.kind
        if fkind == F.K_PORT:
            try:
                val, mask = F.parse_port(strip_quotes(text), ports), 0xFFFF
            except F.FieldValueError as e:
                raise SyntaxParseError(source, "match", f"{name}={text}: {e}",
                                       "fix the value or add the port to the bridge") from None
        elif fkind == F.K_DL_VLAN:
            if val == 0xFFFF:
                val, mask = 0, VLAN_CFI | VLAN_VID_MASK
            else:
                val, mask = VLAN_CFI | (val & VLAN_VID_MASK), VLAN_CFI | VLAN_VID_MASK
        elif fkind == F.K_DL_VLAN_PCP:
            val, mask = VLAN_CFI | ((val & 7) << 13), VLAN_CFI | 0xE000
        else:
            if name == "nw_tos":
                mask &= 0xFC
            if field.ofs:
                val <<= field.ofs
                mask <<= field.ofs
        idx = F.SLOT_INDEX[field.slot]
        cur = slots.get(idx)
        if cur is None:
            slots[idx] = [val & mask, mask]
        else:
            cur[0] = (cur[0] & ~mask) | (val & mask)
            cur[1] |= mask
    return tuple([(i, vm[0] & vm[1], vm[1]) for i, vm in sorted(slots.items())]), tuple(ignored)


def ignored_match_fields(flow: Flow) -> tuple[str, ...]:
    """The match fields of ``flow`` that OVS ignores because their prerequisites are not met
    (``tp_dst=80`` without ``tcp``/``udp``): ovs-ofctl accepts such a flow and silently drops the
    field, so a flow file may not mean what it says. Port names are not checked here."""
    return compile_match(flow.match, lambda name: 0)[1]


def _sig_key(match: Match) -> tuple[tuple[tuple[int, int], ...], Key]:
    """A compiled match as its subtable signature (slots and masks) and its hash key."""
    ints = _INTS
    if len(match) == 1:
        i, val, m = match[0]
        return ((i, m),), ints.setdefault(val, val)
    return (tuple([(i, m) for i, _, m in match]),
            tuple([ints.setdefault(val, val) for _, val, _ in match]))


def clear_compile_caches() -> None:
    """Drop the compile-time caches (their memory goes with the compilation)."""
    _PAIRS.clear()
    _INTS.clear()
