"""The OpenFlow engine (layer 3): Open vSwitch's ``ofproto/trace`` in Python.

`OpenFlowEngine(bridges, host)` compiles each bridge's flows (lazily, one table at a time, on the
first lookup) into a tuple-space classifier like OVS's own: per table, subtables of flows that
match the same fields with the same masks, each a hash from the masked packet values to the
flows, visited by decreasing maximum priority. `run(bridge, in_port, packet, state)` walks one
packet through the pipeline and returns a `BridgeVisit` tree (patch ports continue into the peer
bridge as child visits).

Semantics follow ``ofproto-dpif-xlate.c``: priorities and masks, OVS's prerequisite
normalisation (a field whose prerequisites the match does not meet is ignored), resubmit and
goto_table (depth limit 64), table miss = drop, output/in_port/LOCAL/output:reg, NORMAL (per-VLAN
MAC learning in `OpenFlowState`, access ports and trunks, flood to the VLAN's ports except the
input port), VLAN push/pop/mod, set_field/load/move, set_tunnel, learn() into the state's
learned-flow tables, conjunctive matches, ct() with a small conntrack (zones, commit, nat,
recirculation to ``table``), controller, patch ports and tunnel ports.

All mutable state (MAC tables, learned flows, conntrack) lives in `OpenFlowState`, owned by the
caller and keyed by (host, bridge) or (host, zone), so a trace can start cold or warm. A trace
that changed nothing in the state is cached: the same packet on the same state gets the same
`BridgeVisit` back.

Where the datapath and ``ofproto/trace`` differ, ``ofproto/trace`` is followed: NORMAL looks the
destination up before learning the source. Not modelled: flow timeouts expiring (learned flows keep
their idle/hard_timeout but never age), groups, meters, MPLS, xreg/xxreg/tun_metadata fields,
bundle/multipath, native-tagged/untagged VLAN modes, mirrors, STP, ct ``alg``/``+rel`` and IPv6 NAT.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from neutrace.dataplane import Flow, OvsBridge, OvsPort
from neutrace.engines.results import (
    EXIT_CONTROLLER,
    EXIT_DROP,
    EXIT_LIMIT,
    EXIT_OUTPUT,
    EXIT_PATCH,
    BridgeVisit,
    OfExit,
)
from neutrace.errors import SimulationError, SyntaxParseError
from neutrace.packet import FieldChange, Packet
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields as F
from neutrace.syntax.ofctl import format_flow
from neutrace.trace import STEP_ACTION, STEP_CONNTRACK, STEP_FDB, STEP_NOTE, STEP_TABLE, Step

MAX_DEPTH = 64  # OVS's MAX_DEPTH for resubmit/goto_table/patch-port recursion
MAX_RESUBMITS = 4096  # OVS's MAX_RESUBMITS per translation
MAX_RECIRC = 16

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
N_PACKET = len(F.PACKET_SLOTS)
N_SLOTS = len(F.SLOTS)
_FIRST_REG = _S["reg0"]

CT_NEW, CT_EST, CT_REL, CT_RPL, CT_INV, CT_TRK, CT_SNAT, CT_DNAT = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80)
VLAN_CFI = 0x1000
VLAN_VID_MASK = 0x0FFF
OFPP_LOCAL = F.OFPP_LOCAL

Values = list[int]
Match = tuple[tuple[int, int, int], ...]  # (slot index, value, mask), sorted by slot


# -- compiled flows and tables ---------------------------------------------------------------


class _Learned:
    """A flow added by learn(): the Flow and its compiled match (learned tables are small and
    scanned linearly)."""

    __slots__ = ("flow", "priority", "match")

    def __init__(self, flow: Flow, match: Match) -> None:
        self.flow = flow
        self.priority = flow.priority
        self.match = match

    def matches(self, v: Values) -> bool:
        for i, val, mask in self.match:
            if v[i] & mask != val:
                return False
        return True


@lru_cache(maxsize=8192)
def flow_text(flow: Flow) -> str:
    """``format_flow`` of a flow (cached: it is the detail of every table step)."""
    return format_flow(flow)


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


class _Subtable:
    """Flows matching the same fields with the same masks: masked packet values -> flow(s)
    (a single Flow, or a list by decreasing priority)."""

    __slots__ = ("sig", "key", "rules", "max_priority")

    def __init__(self, sig: tuple[tuple[int, int], ...]) -> None:
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


class _Table:
    """The flows of one table: ordinary flows and conjunctive-clause flows, each in subtables
    visited by decreasing maximum priority (OVS's tuple space search)."""

    __slots__ = ("plain", "conj")

    def __init__(self, flows: Iterable[Flow], ports: Callable[[str], int | None] | None,
                 source: str) -> None:
        plain: dict[tuple[tuple[int, int], ...], _Subtable] = {}
        conj: dict[tuple[tuple[int, int], ...], _Subtable] = {}
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
                st = target[sig] = _Subtable(sig)
            st.add(key, f)
        self.plain = sorted(plain.values(), key=lambda s: -s.max_priority)
        self.conj = sorted(conj.values(), key=lambda s: -s.max_priority)

    def lookup(self, v: Values, floor: int = -1) -> Flow | None:
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


# -- state ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LearnedFlow:
    """A flow added by learn(): where it lives and the flow itself (with its timeouts/cookie)."""

    host: str
    bridge: str
    flow: Flow


@dataclass(slots=True)
class _Conn:
    orig: tuple[int, ...]
    reply: tuple[int, ...]
    zone: int
    mark: int = 0
    label: int = 0
    replied: bool = False
    nat_kind: str = ""  # "src" / "dst"
    nat_orig: tuple[int, int] = (0, 0)  # (address, port) before NAT
    nat_new: tuple[int, int] = (0, 0)  # after


_STATE_SERIALS = itertools.count(1)


class OpenFlowState:
    """Mutable, caller-owned state of every OVS bridge of a cloud: NORMAL's MAC learning tables
    per (host, bridge), flows added by learn() per (host, bridge), conntrack per (host, zone)."""

    __slots__ = ("macs", "learned", "conntrack", "serial", "version")

    def __init__(self) -> None:
        # ``serial`` tells states apart, ``version`` counts changes: together they say whether a
        # trace may be answered from the engine's cache (same input, same state: same result)
        self.serial = next(_STATE_SERIALS)
        self.version = 0
        # (host, bridge) -> {(vlan, mac as int): port name}
        self.macs: dict[tuple[str, str], dict[tuple[int, int], str]] = {}
        # (host, bridge) -> table -> {(priority, match): rule}
        self.learned: dict[tuple[str, str], dict[int, dict[tuple[int, Match], _Learned]]] = {}
        # (host, zone) -> {tuple key: connection}
        self.conntrack: dict[tuple[str, int], dict[tuple[int, ...], _Conn]] = {}

    def copy(self) -> OpenFlowState:
        new = OpenFlowState()
        new.version = self.version
        new.macs = {k: dict(v) for k, v in self.macs.items()}
        new.learned = {k: {t: dict(r) for t, r in v.items()} for k, v in self.learned.items()}
        new.conntrack = {
            k: {ck: _Conn(c.orig, c.reply, c.zone, c.mark, c.label, c.replied, c.nat_kind,
                          c.nat_orig, c.nat_new) for ck, c in v.items()}
            for k, v in self.conntrack.items()
        }
        return new

    def mac_table(self, host: str, bridge: str) -> dict[tuple[int, str], str]:
        """NORMAL's MAC table of a bridge: ``{(vlan, "fa:16:3e:..."): port name}``."""
        return {(vlan, F.int_to_mac(mac)): port
                for (vlan, mac), port in self.macs.get((host, bridge), {}).items()}

    def learned_flows(self, host: str = "", bridge: str = "") -> tuple[LearnedFlow, ...]:
        """The flows learn() added (optionally of one host/bridge), table by table."""
        out = []
        for (h, b), tables in sorted(self.learned.items()):
            if (host and h != host) or (bridge and b != bridge):
                continue
            for t in sorted(tables):
                for rule in tables[t].values():
                    out.append(LearnedFlow(h, b, rule.flow))
        return tuple(out)

    def connections(self, host: str = "") -> int:
        """How many conntrack entries exist (of one host, or all)."""
        return sum(len(v) for (h, _), v in self.conntrack.items() if not host or h == host)


# -- bridges ----------------------------------------------------------------------------------


class _Bridge:
    """One bridge: ports by name/ofport and its tables, compiled on first use."""

    __slots__ = ("spec", "name", "by_name", "by_ofport", "flows_by_table", "tables", "ports")

    def __init__(self, spec: OvsBridge) -> None:
        self.spec = spec
        self.name = spec.name
        self.by_name: dict[str, OvsPort] = {p.name: p for p in spec.ports}
        self.by_ofport: dict[int, OvsPort] = {p.ofport: p for p in spec.ports}
        if spec.name not in self.by_name:
            local = OvsPort(spec.name, OFPP_LOCAL, "internal")
            self.by_name[spec.name] = local
            self.by_ofport.setdefault(OFPP_LOCAL, local)
        # every port, the implicit LOCAL one included, in ofport order (flooding visits them so)
        self.ports: tuple[OvsPort, ...] = tuple(sorted(self.by_name.values(),
                                                       key=lambda p: p.ofport))
        self.flows_by_table: dict[int, list[Flow]] = {}
        known = self.by_name
        for f in spec.flows:
            self.flows_by_table.setdefault(f.table, []).append(f)
            for k, val in f.match:
                if k == "in_port" and not val.isdigit() and _strip_quotes(val) not in known \
                        and val.lower() not in F.RESERVED_PORTS:
                    raise SyntaxParseError(
                        spec.name, f"table={f.table}, priority={f.priority}",
                        f"in_port={val}: bridge {spec.name} has no port {_strip_quotes(val)!r}",
                        "use one of its ports: " + ", ".join(sorted(known)))
        self.tables: dict[int, _Table] = {}

    def ofport(self, name: str) -> int | None:
        p = self.by_name.get(name)
        return p.ofport if p is not None else None

    def port_name(self, ofport: int) -> str:
        p = self.by_ofport.get(ofport)
        if p is not None:
            return p.name
        if ofport == OFPP_LOCAL:
            return self.name
        return str(ofport)

    def table(self, table_id: int) -> _Table | None:
        t = self.tables.get(table_id)
        if t is None:
            flows = self.flows_by_table.get(table_id)
            if not flows:
                return None
            gc_was_on = gc.isenabled()
            gc.disable()  # compiling makes no cycles; the collector's passes cost ~30% here
            try:
                t = self.tables[table_id] = _Table(flows, self.ofport, self.name)
            finally:
                if gc_was_on:
                    gc.enable()
                _PAIRS.clear()  # compile-time caches: their memory goes with the compilation
                _INTS.clear()
        return t


# -- compiling a flow's match -----------------------------------------------------------------


def _prereq_ok(prereq: str, dl_type: int | None, nw_proto: int | None,
               icmp_type: int | None) -> bool:
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


def _strip_quotes(text: str) -> str:
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
        if field.prereq and not _prereq_ok(field.prereq, dl_type, nw_proto, icmp_type):
            ignored.append(name)
            continue
        fkind = field.kind
        if fkind == F.K_PORT:
            try:
                val, mask = F.parse_port(_strip_quotes(text), ports), 0xFFFF
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
        idx = _SLOT_OF[field.slot]
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


_SLOT_OF = F.SLOT_INDEX


# -- packet <-> values ------------------------------------------------------------------------

_PACKET_SLOTS = F.PACKET_SLOTS
_CONVERT: tuple[bool, ...] = tuple(
    s in F.MAC_SLOTS or s in F.IPV4_SLOTS or s in F.IPV6_SLOTS for s in _PACKET_SLOTS
)


@lru_cache(maxsize=16384)
def _mac_int(text: str) -> int:
    return F.mac_to_int(text)


@lru_cache(maxsize=16384)
def _ipv4_int(text: str) -> int:
    return F.ipv4_to_int(text)


@lru_cache(maxsize=4096)
def _ipv6_int(text: str) -> int:
    return F.ipv6_to_int(text)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Packet))
assert _FIELD_NAMES[:N_PACKET] == _PACKET_SLOTS  # Packet's fields in slot order, then payload
_TO_INT = tuple(
    _mac_int if s in F.MAC_SLOTS else _ipv4_int if s in F.IPV4_SLOTS
    else _ipv6_int if s in F.IPV6_SLOTS else None for s in _PACKET_SLOTS
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
        base.__getattribute__(n) for n in _FIELD_NAMES]
    for i in range(N_PACKET):
        x = v[i]
        if x != base_v[i]:
            conv = _FROM_INT[i]
            args[i] = (conv(x) if x else "") if conv is not None else x
    return Packet(*args)  # type: ignore[arg-type]


def _show_value(slot: str, value: int) -> object:
    if slot in ("vlan_tci", "tun_id", "metadata", "ct_state", "ct_mark") or slot.startswith("reg"):
        return value
    return F.int_to_slot(slot, value) if slot in _PACKET_SLOTS else value


def _diff(before: Values, after: Values,
          slots: Iterable[int] = range(N_SLOTS)) -> tuple[FieldChange, ...]:
    """The fields that differ (only ``slots`` are compared when given)."""
    out = []
    for i in slots:
        if before[i] != after[i]:
            name = F.SLOTS[i]
            if name in ("conj_id",):
                continue
            out.append(FieldChange(name, _show_value(name, before[i]),
                                   _show_value(name, after[i])))
    return tuple(out)


# -- the translation context ------------------------------------------------------------------


class _Visit:
    """One bridge visit in progress."""

    __slots__ = ("bridge", "in_port", "packet", "base_v", "v", "steps", "exits", "drop_reason",
                 "recirc", "stopped", "_packets", "_args")

    def __init__(self, bridge: _Bridge, in_port: str, packet: Packet, v: Values) -> None:
        self.bridge = bridge
        self.in_port = in_port
        self.packet = packet
        self.base_v = list(v)
        self.v = v
        self.steps: list[Step] = []
        self.exits: list[OfExit] = []
        self.drop_reason = ""
        self.recirc: list[tuple[int, Values]] = []
        self.stopped = False
        self._packets: dict[tuple[int, ...], Packet] = {}
        self._args: list[object] | None = None

    def current_packet(self) -> Packet:
        """The packet as it is now (copies with the same headers share one Packet)."""
        key = tuple(self.v[:N_PACKET])
        p = self._packets.get(key)
        if p is None:
            if self._args is None:
                base = self.packet
                self._args = [base.__getattribute__(n) for n in _FIELD_NAMES]
            p = self._packets[key] = values_packet(self.packet, self.base_v, self.v, self._args)
        return p


class _Run:
    """One call of `OpenFlowEngine.run`: counters shared by every visit it makes."""

    __slots__ = ("state", "resubmits", "patch_chain")

    def __init__(self, state: OpenFlowState) -> None:
        self.state = state
        self.resubmits = 0
        self.patch_chain: list[str] = []


class OpenFlowEngine:
    """The OpenFlow pipelines of one host's OVS bridges (see the module docstring)."""

    def __init__(self, bridges: Sequence[OvsBridge], host: str = "") -> None:
        self.host = host
        self._bridges: dict[str, _Bridge] = {b.name: _Bridge(b) for b in bridges}
        self._cache: dict[tuple[int, int, str, str, Packet], BridgeVisit] = {}
        # (id(flow), depth) -> (flow, the step of a lookup that matched it)
        self._table_steps: dict[tuple[int, int], tuple[Flow, Step]] = {}
        # patch port name -> bridge that owns it
        self._port_owner: dict[str, str] = {}
        for b in bridges:
            for p in b.ports:
                self._port_owner[p.name] = b.name

    @property
    def bridges(self) -> tuple[str, ...]:
        return tuple(self._bridges)

    def compile_all(self) -> None:
        """Compile every table now (otherwise each is compiled on its first lookup)."""
        for b in self._bridges.values():
            for t in b.flows_by_table:
                b.table(t)

    def run(self, bridge: str, in_port: str, packet: Packet,
            state: OpenFlowState) -> BridgeVisit:
        """The packet entering ``bridge`` through the port named ``in_port``."""
        br = self._bridges.get(bridge)
        if br is None:
            raise SimulationError(f"host {self.host!r} has no OVS bridge {bridge!r}")
        if br.ofport(in_port) is None:
            raise SimulationError(f"bridge {bridge} on host {self.host!r} has no port {in_port!r}")
        key = (state.serial, state.version, bridge, in_port, packet)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        version = state.version
        visit = self._visit(br, in_port, packet, _Run(state), 0)
        if state.version == version:  # the trace changed nothing: the same input gives this
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = visit
        return visit

    # -- a visit ---------------------------------------------------------------------------
    def _visit(self, br: _Bridge, in_port: str, packet: Packet, run: _Run,
               depth: int, values: Values | None = None) -> BridgeVisit:
        ofport = br.ofport(in_port)
        assert ofport is not None
        if values is None:
            values = packet_values(packet, ofport)
        vis = _Visit(br, in_port, packet, values)
        run.patch_chain.append(br.name)
        try:
            self._table(vis, run, 0, depth, 0)
            n = 0
            while vis.recirc and n < MAX_RECIRC:
                n += 1
                table_id, v = vis.recirc.pop(0)
                vis.v[:] = v
                vis.stopped = False
                vis.steps.append(Step(STEP_CONNTRACK, f"resume conntrack with ct_state="
                                      f"{_ct_state_text(v[I_CT_STATE])}, recirculating to "
                                      f"table {table_id}", where=str(table_id), depth=0))
                self._table(vis, run, table_id, depth, 0)
        finally:
            run.patch_chain.pop()
        exits = vis.exits
        if not exits:
            reason = vis.drop_reason or f"{br.name}: no output action: dropped"
            exits = [OfExit(EXIT_DROP, reason=reason)]
        return BridgeVisit(br.name, in_port, packet, tuple(vis.steps), tuple(exits))

    def _limit(self, vis: _Visit, why: str, depth: int) -> None:
        vis.steps.append(Step(STEP_NOTE, why, depth=depth))
        vis.exits.append(OfExit(EXIT_LIMIT, reason=f"{vis.bridge.name}: {why}"))
        vis.stopped = True

    def _lookup(self, vis: _Visit, run: _Run, table_id: int) -> tuple[Flow | None, str]:
        br = vis.bridge
        table = br.table(table_id)
        by_bridge = run.state.learned.get((self.host, br.name)) if run.state.learned else None
        learned = by_bridge.get(table_id) if by_bridge else None
        v = vis.v
        best = table.lookup(v) if table is not None else None
        if learned:
            bp = best.priority if best is not None else -1
            for rule in learned.values():
                if rule.priority >= bp and rule.matches(v):
                    best, bp = rule.flow, rule.priority
        if table is not None and table.conj:
            floor = best.priority if best is not None else -1
            cands = table.conj_matches(v, floor)
            if cands:
                # conjunctions (priority, id) with every clause matched
                seen: dict[tuple[int, int], set[int]] = {}
                need: dict[tuple[int, int], int] = {}
                for f in cands:
                    for c in A.parse_actions(f.actions):
                        if isinstance(c, A.Conjunction):
                            seen.setdefault((f.priority, c.id), set()).add(c.clause)
                            need[(f.priority, c.id)] = c.n_clauses
                done = sorted((k for k, got in seen.items() if len(got) >= need[k]),
                              key=lambda k: (-k[0], k[1]))
                for prio, cid in done:
                    saved = v[I_CONJ_ID]
                    v[I_CONJ_ID] = cid
                    hit = table.lookup(v, floor)
                    v[I_CONJ_ID] = saved
                    if hit is not None:
                        return hit, f"conj_id={cid} (conjunction of priority {prio} complete)"
        return best, ""

    def _table(self, vis: _Visit, run: _Run, table_id: int, depth: int, sdepth: int) -> None:
        """Look ``vis`` up in ``table_id`` and execute the matched flow's actions."""
        if depth >= MAX_DEPTH:
            self._limit(vis, f"over max translation depth {MAX_DEPTH}", sdepth)
            return
        run.resubmits += 1
        if run.resubmits > MAX_RESUBMITS:
            self._limit(vis, f"over {MAX_RESUBMITS} resubmit actions", sdepth)
            return
        flow, note = self._lookup(vis, run, table_id)
        where = _TABLE_NAMES[table_id]
        if flow is None:
            vis.steps.append(Step(STEP_TABLE, f"{table_id}. No match.", "", where, sdepth))
            vis.drop_reason = (f"{vis.bridge.name} table {table_id}: no flow matched "
                               f"(table miss): dropped")
            return
        key = (id(flow), sdepth)
        cached = self._table_steps.get(key)
        if cached is None or cached[0] is not flow:
            if len(self._table_steps) >= 65536:
                self._table_steps.clear()
            cached = self._table_steps[key] = (
                flow, Step(STEP_TABLE, _table_text(flow), flow_text(flow), where, sdepth))
        vis.steps.append(cached[1])
        if note:
            vis.steps.append(Step(STEP_NOTE, note, "", where, sdepth))
        actions = A.parse_actions(flow.actions)
        if not actions or (len(actions) == 1 and isinstance(actions[0], A.Drop)):
            vis.steps.append(Step(STEP_ACTION, "drop", "", where, sdepth))
            vis.drop_reason = (f"{vis.bridge.name} table {table_id}: flow "
                               f"\"{_short(flow)}\" drops the packet: dropped")
            return
        self._actions(vis, run, actions, table_id, depth, sdepth)

    # -- actions ---------------------------------------------------------------------------
    def _actions(self, vis: _Visit, run: _Run, actions: Sequence[object], table_id: int,
                 depth: int, sdepth: int) -> None:
        v = vis.v
        where = _TABLE_NAMES[table_id]
        steps = vis.steps
        for act in actions:
            if vis.stopped:
                return
            t = type(act)
            if t in _SIMPLE_REWRITES:
                idx = _target_slot(act)
                old = v[idx]
                self._rewrite(v, act)
                steps.append(_rewrite_step(act.text, where, sdepth,  # type: ignore[attr-defined]
                                           idx, old, v[idx]))
            elif isinstance(act, A.Output):
                steps.append(_action_step(act.text, where, sdepth))
                port = self._resolve(vis, act.port)
                if port is None:
                    steps.append(Step(STEP_NOTE, f"-> Nonexistent output port {act.port}",
                                      where=where, depth=sdepth))
                    continue
                self._output_port(vis, run, port, depth, sdepth, table_id, act.text)
            elif isinstance(act, A.Resubmit | A.GotoTable):
                steps.append(_action_step(act.text, where, sdepth))
                if isinstance(act, A.GotoTable):
                    self._table(vis, run, act.table, depth + 1, sdepth + 1)
                    return
                target = table_id if act.table is None else act.table
                if act.port is None:
                    self._table(vis, run, target, depth + 1, sdepth + 1)
                else:
                    port = self._resolve(vis, act.port)
                    saved = v[I_IN_PORT]
                    v[I_IN_PORT] = port if port is not None else F.OFPP_NONE
                    self._table(vis, run, target, depth + 1, sdepth + 1)
                    v[I_IN_PORT] = saved
            elif isinstance(act, A.Normal):
                steps.append(_action_step(act.text, where, sdepth))
                self._normal(vis, run, depth, sdepth, where)
            elif isinstance(act, A.Drop):
                steps.append(_action_step(act.text, where, sdepth))
                vis.drop_reason = f"{vis.bridge.name} table {table_id}: drop action: dropped"
                return
            elif isinstance(act, A.Conjunction):
                steps.append(_action_step(act.text, where, sdepth))
            elif isinstance(act, A.Learn):
                steps.append(_action_step(act.text, where, sdepth))
                self._learn(vis, run, act, sdepth, where)
            elif isinstance(act, A.Ct):
                self._ct(vis, run, act, table_id, depth, sdepth)
            elif isinstance(act, A.InPort):
                steps.append(_action_step(act.text, where, sdepth))
                self._output_port(vis, run, v[I_IN_PORT], depth, sdepth, table_id, act.text,
                                  allow_in_port=True)
            elif isinstance(act, A.Local):
                steps.append(_action_step(act.text, where, sdepth))
                self._output_port(vis, run, OFPP_LOCAL, depth, sdepth, table_id, act.text)
            elif isinstance(act, A.OutputReg):
                steps.append(_action_step(act.text, where, sdepth))
                port = (v[F.SLOT_INDEX[act.src.field.slot]] >> act.src.shift) & (
                    (1 << act.src.nbits) - 1)
                self._output_port(vis, run, port, depth, sdepth, table_id, act.text)
            elif isinstance(act, A.Flood):
                steps.append(_action_step(act.text, where, sdepth))
                for p in vis.bridge.ports:
                    if p.ofport != v[I_IN_PORT]:
                        self._output_port(vis, run, p.ofport, depth, sdepth, table_id, act.text)
            elif isinstance(act, A.Controller):
                steps.append(_action_step(act.text, where, sdepth))
                vis.exits.append(OfExit(EXIT_CONTROLLER, packet=vis.current_packet(),
                                        reason=f"{vis.bridge.name} table {table_id}: sent to "
                                               f"the controller ({act.reason})"))
            elif isinstance(act, A.Clone):
                steps.append(_action_step(act.text, where, sdepth))
                saved_v = list(v)
                self._actions(vis, run, act.actions, table_id, depth + 1, sdepth + 1)
                v[:] = saved_v
                vis.stopped = False
            elif isinstance(act, A.Exit):
                steps.append(_action_step(act.text, where, sdepth))
                vis.stopped = True
                return
            elif isinstance(act, A.DecTtl) and v[I_DL_TYPE] in (F.ETH_TYPE_IP, F.ETH_TYPE_IPV6) \
                    and v[I_NW_TTL] <= 1:
                # OVS sends the packet to the controller (reason invalid_ttl) and stops here
                steps.append(_action_step(act.text, where, sdepth))
                steps.append(Step(STEP_NOTE, "-> TTL exceeded: sent to the controller "
                                  "(invalid_ttl), processing stops", "", where, sdepth))
                vis.exits.append(OfExit(EXIT_CONTROLLER, packet=vis.current_packet(),
                                        reason=f"{vis.bridge.name} table {table_id}: dec_ttl: "
                                               "TTL exceeded (invalid_ttl)"))
                vis.stopped = True
                return
            elif isinstance(act, A.Note | A.NoOp):
                steps.append(_action_step(act.text, where, sdepth))
            else:
                idx = _target_slot(act)
                if idx < 0:
                    before = list(v)
                    self._rewrite(v, act)
                    changes = _diff(before, v)
                else:
                    old = v[idx]
                    self._rewrite(v, act)
                    new = v[idx]
                    changes = () if new == old else (FieldChange(
                        F.SLOTS[idx], _show_value(F.SLOTS[idx], old),
                        _show_value(F.SLOTS[idx], new)),)
                steps.append(Step(STEP_ACTION, getattr(act, "text", ""), "", where, sdepth,
                                  changes))

    def _rewrite(self, v: Values, act: object) -> None:
        """Actions that only rewrite fields."""
        if isinstance(act, A.SetVlanVid):
            v[I_VLAN] = (v[I_VLAN] & ~VLAN_VID_MASK) | VLAN_CFI | act.vid
        elif isinstance(act, A.SetVlanPcp):
            v[I_VLAN] = (v[I_VLAN] & ~0xE000) | VLAN_CFI | (act.pcp << 13)
        elif isinstance(act, A.StripVlan):
            v[I_VLAN] = 0
        elif isinstance(act, A.PushVlan):
            if not v[I_VLAN] & VLAN_CFI:
                v[I_VLAN] = VLAN_CFI
        elif isinstance(act, A.SetField):
            fld = act.field
            if not self._settable(v, fld):
                return
            idx = F.SLOT_INDEX[fld.slot]
            mask = act.mask << fld.ofs
            v[idx] = (v[idx] & ~mask) | ((act.value << fld.ofs) & mask)
        elif isinstance(act, A.Load):
            sub = act.dst
            idx = F.SLOT_INDEX[sub.field.slot]
            mask = sub.slot_mask
            v[idx] = (v[idx] & ~mask) | ((act.value << sub.shift) & mask)
        elif isinstance(act, A.Move):
            s, d = act.src, act.dst
            bits = (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)
            idx = F.SLOT_INDEX[d.field.slot]
            mask = d.slot_mask
            v[idx] = (v[idx] & ~mask) | ((bits << d.shift) & mask)
        elif isinstance(act, A.SetTunnel):
            v[I_TUN_ID] = act.tun_id
        elif isinstance(act, A.DecTtl):
            if v[I_DL_TYPE] in (F.ETH_TYPE_IP, F.ETH_TYPE_IPV6):
                v[I_NW_TTL] -= 1
        elif isinstance(act, A.WriteMetadata):
            v[I_METADATA] = (v[I_METADATA] & ~act.mask) | (act.value & act.mask)
        elif isinstance(act, A.CtClear):
            v[I_CT_STATE] = v[I_CT_ZONE] = v[I_CT_MARK] = v[I_CT_LABEL] = 0
        else:
            raise SimulationError(f"action {act!r} is not simulated")

    @staticmethod
    def _settable(v: Values, fld: F.Field) -> bool:
        """OVS applies mod_nw_src/set_field... only when the packet has that header."""
        dl_type = v[I_DL_TYPE]
        proto = v[I_NW_PROTO]
        return _prereq_ok(fld.prereq, dl_type, proto, v[I_TP_SRC]) and (
            fld.prereq != F.P_VLAN or bool(v[I_VLAN] & VLAN_CFI))

    def _resolve(self, vis: _Visit, port: str) -> int | None:
        try:
            return F.parse_port(port, vis.bridge.ofport)
        except F.FieldValueError:
            return None

    # -- outputs ---------------------------------------------------------------------------
    def _output_port(self, vis: _Visit, run: _Run, ofport: int, depth: int, sdepth: int,
                     table_id: int, text: str, allow_in_port: bool = False) -> None:
        v = vis.v
        where = _TABLE_NAMES[table_id]
        if ofport == F.OFPP_IN_PORT:
            ofport, allow_in_port = v[I_IN_PORT], True
        if ofport == F.OFPP_NORMAL:
            self._normal(vis, run, depth, sdepth, where)
            return
        if ofport == F.OFPP_CONTROLLER:
            vis.exits.append(OfExit(EXIT_CONTROLLER, packet=vis.current_packet(),
                                    reason=f"{vis.bridge.name} table {table_id}: sent to the "
                                           "controller"))
            return
        if ofport in (F.OFPP_FLOOD, F.OFPP_ALL):
            self._actions(vis, run, (A.Flood(ofport == F.OFPP_ALL, text),), table_id, depth,
                          sdepth)
            return
        if ofport == v[I_IN_PORT] and not allow_in_port:
            vis.steps.append(Step(STEP_NOTE, "-> skipping output to input port", where=where,
                                  depth=sdepth))
            return
        port = vis.bridge.by_ofport.get(ofport)
        if port is None:
            vis.steps.append(Step(STEP_NOTE, "-> Nonexistent output port", where=where,
                                  depth=sdepth))
            return
        if port.type == "patch":
            self._patch(vis, run, port, depth, sdepth, where)
        elif port.is_tunnel:
            self._tunnel(vis, port, sdepth, where)
        else:
            vis.exits.append(OfExit(EXIT_OUTPUT, port.name, vis.current_packet()))

    def _tunnel(self, vis: _Visit, port: OvsPort, sdepth: int, where: str) -> None:
        opts = dict(port.options)
        key_opt = opts.get("out_key") or opts.get("key") or "0"
        v = vis.v
        tun_id = v[I_TUN_ID] if key_opt == "flow" else F.parse_int(key_opt)
        remote = opts.get("remote_ip") or ""
        local = opts.get("local_ip") or ""
        saved = v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST]
        v[I_TUN_ID] = tun_id
        v[I_TUN_SRC] = _ipv4_int(local) if local and ":" not in local else 0
        v[I_TUN_DST] = _ipv4_int(remote) if remote and ":" not in remote else 0
        out = vis.current_packet()
        v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST] = saved
        vis.steps.append(Step(STEP_NOTE, f"-> output to tunnel {port.name} ({port.type}): "
                              f"tun_id={tun_id:#x} src={local} dst={remote}", where=where,
                              depth=sdepth))
        vis.exits.append(OfExit(EXIT_OUTPUT, port.name, out))

    def _patch(self, vis: _Visit, run: _Run, port: OvsPort, depth: int, sdepth: int,
               where: str) -> None:
        peer = port.peer or ""
        peer_bridge_name = self._port_owner.get(peer)
        peer_br = self._bridges.get(peer_bridge_name or "")
        if peer_br is None or peer_br.by_name.get(peer) is None:
            vis.steps.append(Step(STEP_NOTE, f"-> patch port {port.name}: peer {peer!r} not "
                                  "found", "", where, sdepth))
            vis.exits.append(OfExit(EXIT_DROP, port.name, vis.current_packet(),
                                    reason=f"{vis.bridge.name}: patch port {port.name} has no "
                                           f"peer {peer!r} on this host: dropped"))
            return
        if depth + 1 >= MAX_DEPTH:
            self._limit(vis, f"patch port chain {' -> '.join(run.patch_chain)} -> "
                             f"{peer_br.name} over max translation depth {MAX_DEPTH}", sdepth)
            return
        # OVS clears the tunnel metadata, registers, metadata and conntrack state at a patch port
        v = vis.v
        saved = v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST]
        v[I_TUN_ID] = v[I_TUN_SRC] = v[I_TUN_DST] = 0
        inner = vis.current_packet()
        v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST] = saved
        child_v = [0] * N_SLOTS
        child_v[:N_PACKET] = vis.v[:N_PACKET]
        child_v[I_TUN_ID] = child_v[I_TUN_SRC] = child_v[I_TUN_DST] = 0
        child_v[I_IN_PORT] = peer_br.by_name[peer].ofport
        vis.steps.append(Step(STEP_NOTE, f"-> patch port {port.name} -> {peer} "
                              f"(bridge {peer_br.name})", "", where, sdepth))
        child = self._visit(peer_br, peer, inner, run, depth + 1, child_v)
        vis.exits.append(OfExit(EXIT_PATCH, port.name, inner, next=child))

    # -- NORMAL ----------------------------------------------------------------------------
    def _normal(self, vis: _Visit, run: _Run, depth: int, sdepth: int, where: str) -> None:
        v = vis.v
        br = vis.bridge
        steps = vis.steps
        in_ofport = v[I_IN_PORT]
        in_port = br.by_ofport.get(in_ofport)
        in_name = in_port.name if in_port is not None else str(in_ofport)
        tci = v[I_VLAN]
        vid = tci & VLAN_VID_MASK if tci & VLAN_CFI else 0
        if in_port is not None and in_port.tag is not None:
            if vid:
                steps.append(Step(STEP_FDB, f"-> dropping VLAN {vid} tagged packet received on "
                                  f"port {in_name} configured as VLAN {in_port.tag} access port",
                                  where=where, depth=sdepth))
                vis.drop_reason = (f"{br.name} NORMAL: VLAN {vid} tagged packet on access port "
                                   f"{in_name} (tag {in_port.tag}): dropped")
                return
            vlan = in_port.tag
        else:
            vlan = vid
            if in_port is not None and in_port.trunks and vlan not in in_port.trunks:
                steps.append(Step(STEP_FDB, f"-> dropping VLAN {vid} packet received on port "
                                  f"{in_name} not configured for trunking VLAN {vid}",
                                  where=where, depth=sdepth))
                vis.drop_reason = f"{br.name} NORMAL: VLAN {vid} not trunked on {in_name}: dropped"
                return
        macs = run.state.macs.setdefault((self.host, br.name), {})
        src, dst = v[I_DL_SRC], v[I_DL_DST]
        if dst in _RESERVED_MACS:
            steps.append(Step(STEP_FDB, "-> packet has reserved destination MAC, dropping", "",
                              where, sdepth))
            vis.drop_reason = (f"{br.name} NORMAL: reserved destination MAC "
                               f"{F.int_to_mac(dst)}: dropped")
            return
        # The destination is looked up in the table as it was before this packet: what
        # ofproto/trace shows (it learns nothing); the datapath would learn first, which differs
        # only for a frame addressed to its own source MAC.
        learned = None if (dst >> 40) & 1 else macs.get((vlan, dst))
        if not (src >> 40) & 1 and in_port is not None:
            if macs.get((vlan, src)) != in_name:
                macs[(vlan, src)] = in_name
                run.state.version += 1
                steps.append(Step(STEP_FDB, f"-> learned that {F.int_to_mac(src)} is on port "
                                  f"{in_name} in VLAN {vlan}", "", where, sdepth))
        if learned is not None:
            if learned == in_name:
                steps.append(Step(STEP_FDB, "-> learned port is input port, dropping",
                                  where=where, depth=sdepth))
                vis.drop_reason = (f"{br.name} NORMAL: {F.int_to_mac(dst)} was learned on the "
                                   f"input port {in_name}: dropped")
                return
            out = br.by_name.get(learned)
            if out is not None:
                steps.append(Step(STEP_FDB, f"-> forwarding to learned port {learned}",
                                  where=where, depth=sdepth))
                self._normal_output(vis, run, out, vlan, depth, sdepth, where)
                return
        steps.append(Step(STEP_FDB, "-> no learned MAC for destination, flooding" if (
            not (dst >> 40) & 1) else "-> multicast/broadcast destination, flooding",
            where=where, depth=sdepth))
        n = 0
        for p in br.ports:
            if p.ofport == in_ofport or p.name == in_name:
                continue
            if p.tag is not None:
                if p.tag != vlan:
                    continue
            elif p.trunks and vlan not in p.trunks:
                continue
            n += 1
            self._normal_output(vis, run, p, vlan, depth, sdepth, where)
        if not n:
            vis.drop_reason = f"{br.name} NORMAL: no other port in VLAN {vlan}: dropped"

    def _normal_output(self, vis: _Visit, run: _Run, port: OvsPort, vlan: int, depth: int,
                       sdepth: int, where: str) -> None:
        v = vis.v
        saved = v[I_VLAN]
        if port.tag is not None or vlan == 0:
            v[I_VLAN] = 0
        else:
            v[I_VLAN] = (saved & 0xE000) | VLAN_CFI | vlan
        self._output_port(vis, run, port.ofport, depth, sdepth, int(where), f"NORMAL {port.name}")
        v[I_VLAN] = saved

    # -- learn -----------------------------------------------------------------------------
    def _learn(self, vis: _Visit, run: _Run, act: A.Learn, sdepth: int, where: str) -> None:
        v = vis.v
        slots: dict[int, list[int]] = {}
        action_texts: list[str] = []
        for spec in act.specs:
            if spec.kind == "match" and spec.dst is not None:
                d = spec.dst
                if spec.src is not None:
                    s = spec.src
                    bits = (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)
                else:
                    bits = spec.value or 0
                idx = F.SLOT_INDEX[d.field.slot]
                mask = d.slot_mask
                cur = slots.setdefault(idx, [0, 0])
                cur[0] = (cur[0] & ~mask) | ((bits << d.shift) & mask)
                cur[1] |= mask
            elif spec.kind == "load" and spec.dst is not None:
                if spec.src is not None:
                    s = spec.src
                    val = (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)
                else:
                    val = spec.value or 0
                text = f"load:{val:#x}->{spec.dst.nxm()}" if val else f"load:0->{spec.dst.nxm()}"
                action_texts.append(text)
            elif spec.kind == "output" and spec.src is not None:
                s = spec.src
                port = (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)
                text = f"output:{port}"
                action_texts.append(text)
        match: Match = tuple((i, val & m, m) for i, (val, m) in sorted(slots.items()))
        flow = Flow(
            table=act.table, priority=act.priority, match=_match_pairs(match),
            actions=",".join(action_texts) or "drop", cookie=act.cookie,
            idle_timeout=act.idle_timeout, hard_timeout=act.hard_timeout,
        )
        rule = _Learned(flow, match)
        tables = run.state.learned.setdefault((self.host, vis.bridge.name), {})
        table = tables.setdefault(act.table, {})
        old = table.get((act.priority, match))
        if old is None or old.flow != flow:
            table[(act.priority, match)] = rule
            run.state.version += 1
        vis.steps.append(Step(STEP_NOTE, f"-> learned flow in table {act.table}: "
                              f"{format_flow(flow)}", detail=format_flow(flow), where=where,
                              depth=sdepth))

    # -- conntrack -------------------------------------------------------------------------
    def _ct(self, vis: _Visit, run: _Run, act: A.Ct, table_id: int, depth: int,
            sdepth: int) -> None:
        v = vis.v
        where = _TABLE_NAMES[table_id]
        zone = act.zone
        if act.zone_src is not None:
            s = act.zone_src
            zone = (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)
        before = list(v)
        conns = run.state.conntrack.setdefault((self.host, zone), {})
        key = _ct_key(v)
        ct_state = CT_TRK
        conn: _Conn | None = None
        reply_dir = False
        if key is None:
            ct_state |= CT_INV
        else:
            conn = conns.get(key)
            if conn is not None:
                reply_dir = key == conn.reply and key != conn.orig
                if reply_dir:
                    ct_state |= CT_EST | CT_RPL
                    if not conn.replied:
                        conn.replied = True
                        run.state.version += 1
                else:
                    ct_state |= CT_EST if conn.replied else CT_NEW
            else:
                ct_state |= CT_NEW
        exec_mark: int | None = None
        exec_label: int | None = None
        # exec(): only ct_mark / ct_label may be set
        mark = conn.mark if conn is not None else 0
        label = conn.label if conn is not None else 0
        for ex in act.exec_:
            if isinstance(ex, A.SetField) and ex.field.slot in ("ct_mark", "ct_label"):
                cur = mark if ex.field.slot == "ct_mark" else label
                new = (cur & ~ex.mask) | (ex.value & ex.mask)
                if ex.field.slot == "ct_mark":
                    exec_mark = mark = new
                else:
                    exec_label = label = new
            elif isinstance(ex, A.Load) and ex.dst.field.slot in ("ct_mark", "ct_label"):
                m = ex.dst.slot_mask
                if ex.dst.field.slot == "ct_mark":
                    exec_mark = mark = (mark & ~m) | ((ex.value << ex.dst.shift) & m)
                else:
                    exec_label = label = (label & ~m) | ((ex.value << ex.dst.shift) & m)
        if act.commit and key is not None:
            if conn is None:
                conn = _Conn(key, _ct_reverse(key), zone)
                if act.nat is not None and act.nat.kind:
                    self._nat_setup(conn, act.nat, v)
                conns[key] = conn
                conns[conn.reply] = conn
                run.state.version += 1
            if exec_mark is not None and conn.mark != exec_mark:
                conn.mark = exec_mark
                run.state.version += 1
            if exec_label is not None and conn.label != exec_label:
                conn.label = exec_label
                run.state.version += 1
        if conn is not None and act.nat is not None and conn.nat_kind:
            ct_state |= self._nat_apply(conn, v, reply_dir)
        v[I_CT_STATE] = ct_state
        v[I_CT_ZONE] = zone
        v[I_CT_MARK] = conn.mark if conn is not None else (mark if act.commit else 0)
        v[I_CT_LABEL] = conn.label if conn is not None else (label if act.commit else 0)
        vis.steps.append(Step(STEP_CONNTRACK, act.text, where=where, depth=sdepth,
                              changes=_diff(before, v, _CT_SLOTS)))
        if act.table is not None:
            vis.steps.append(Step(STEP_NOTE, "-> A clone of the packet is forked to recirculate. "
                                  f"The forked pipeline will be resumed at table {act.table}.",
                                  where=where, depth=sdepth))
            vis.recirc.append((act.table, list(v)))
            # The packet that goes on after ct() is the one before conntrack
            v[:] = before

    @staticmethod
    def _nat_setup(conn: _Conn, nat: A.Nat, v: Values) -> None:
        if not nat.ip_min or ":" in nat.ip_min:
            return
        new_ip = F.ipv4_to_int(nat.ip_min)
        if nat.kind == "src":
            conn.nat_kind = "src"
            conn.nat_orig = (v[I_NW_SRC], v[I_TP_SRC])
            conn.nat_new = (new_ip, nat.port_min or v[I_TP_SRC])
            # the reply comes back to the translated address
            r = list(conn.reply)
            r[2] = new_ip
            if nat.port_min:
                r[4] = nat.port_min
            conn.reply = tuple(r)
        elif nat.kind == "dst":
            conn.nat_kind = "dst"
            conn.nat_orig = (v[I_NW_DST], v[I_TP_DST])
            conn.nat_new = (new_ip, nat.port_min or v[I_TP_DST])
            r = list(conn.reply)
            r[1] = new_ip
            if nat.port_min:
                r[3] = nat.port_min
            conn.reply = tuple(r)

    @staticmethod
    def _nat_apply(conn: _Conn, v: Values, reply_dir: bool) -> int:
        ip, port = conn.nat_new
        oip, oport = conn.nat_orig
        if conn.nat_kind == "src":
            if reply_dir:
                v[I_NW_DST] = oip
                if port != oport:
                    v[I_TP_DST] = oport
                return CT_SNAT
            v[I_NW_SRC] = ip
            v[I_TP_SRC] = port
            return CT_SNAT
        if reply_dir:
            v[I_NW_SRC] = oip
            if port != oport:
                v[I_TP_SRC] = oport
            return CT_DNAT
        v[I_NW_DST] = ip
        v[I_TP_DST] = port
        return CT_DNAT


@lru_cache(maxsize=8192)
def _table_text(flow: Flow) -> str:
    """The line ofproto/trace prints for a table visit: ``22. dl_vlan=1, priority 1``."""
    head = ",".join(k if not val else f"{k}={val}" for k, val in flow.match)
    text = f"{flow.table}. {head + ', ' if head else ''}priority {flow.priority}"
    if flow.cookie:
        text += f", cookie {flow.cookie:#x}"
    return text


def _short(flow: Flow) -> str:
    """``priority=1,dl_vlan=1 actions=drop``: a flow without its table and cookie."""
    head = ",".join([f"priority={flow.priority}"]
                    + [k if not v else f"{k}={v}" for k, v in flow.match])
    return f"{head} actions={flow.actions}"


_CT_SLOTS = (I_NW_SRC, I_NW_DST, I_TP_SRC, I_TP_DST, I_CT_STATE, I_CT_ZONE, I_CT_MARK,
             I_CT_LABEL)  # what ct() may change (NAT, and the conntrack fields)


def _ct_key(v: Values) -> tuple[int, ...] | None:
    dl_type = v[I_DL_TYPE]
    if dl_type == F.ETH_TYPE_IP:
        src, dst = v[I_NW_SRC], v[I_NW_DST]
    elif dl_type == F.ETH_TYPE_IPV6:
        src, dst = v[I_IPV6_SRC], v[I_IPV6_DST]
    else:
        return None
    proto = v[I_NW_PROTO]
    if proto in (6, 17, 132):
        return (proto, src, dst, v[I_TP_SRC], v[I_TP_DST])
    if proto in (1, 58):
        # ICMP echo request/reply (8/0, 128/129) pair up; other types are their own "connection"
        t = v[I_TP_SRC]
        kind = {8: 1, 0: 1, 128: 1, 129: 1}.get(t, t + 1000)
        return (proto, src, dst, kind, 0)
    return (proto, src, dst, 0, 0)


def _ct_reverse(key: tuple[int, ...]) -> tuple[int, ...]:
    proto, src, dst, sp, dp = key
    if proto in (1, 58):
        return (proto, dst, src, sp, dp)
    return (proto, dst, src, dp, sp)


# Destinations NORMAL never forwards (OVS's eth_addr_is_reserved, forward_bpdu off): STP, pause
# and the other IEEE 802.1 reserved groups, Extreme and Cisco protocols.
_RESERVED_MACS = frozenset(
    [0x0180C2000000 + i for i in range(16)]
    + [0x00E02B000000, 0x00E02B000004, 0x00E02B000006, 0x01000C000000, 0x01000CCCCCCC,
       0x01000CCCCCCD, 0x01000CCDCDCD]
    + [0x01000CCCCCC0 + i for i in range(8)]
)

_SIMPLE_REWRITES = frozenset({A.Load, A.Move, A.SetField, A.SetVlanVid, A.StripVlan,
                               A.PushVlan, A.SetVlanPcp, A.SetTunnel, A.WriteMetadata})
_SLOT_NAMES = F.SLOTS


def _target_slot(act: object) -> int:
    """The one slot a rewriting action changes (-1: several)."""
    if isinstance(act, A.Load | A.Move):
        return _SLOT_OF[act.dst.field.slot]
    if isinstance(act, A.SetField):
        return _SLOT_OF[act.field.slot]
    if isinstance(act, A.SetVlanVid | A.StripVlan | A.PushVlan | A.SetVlanPcp):
        return I_VLAN
    if isinstance(act, A.SetTunnel):
        return I_TUN_ID
    if isinstance(act, A.DecTtl):
        return I_NW_TTL
    if isinstance(act, A.WriteMetadata):
        return I_METADATA
    return -1


_TABLE_NAMES: tuple[str, ...] = tuple(str(i) for i in range(256))  # a step's ``where``
_ACTION_STEPS: dict[tuple[str, str, int], Step] = {}
_REWRITE_STEPS: dict[tuple[str, str, int, int, int, int], Step] = {}


def _rewrite_step(text: str, where: str, depth: int, idx: int, old: int, new: int) -> Step:
    """The (immutable, shared) step of an action that set slot ``idx`` from ``old`` to ``new``."""
    key = (text, where, depth, idx, old, new)
    step = _REWRITE_STEPS.get(key)
    if step is None:
        if len(_REWRITE_STEPS) >= 65536:
            _REWRITE_STEPS.clear()
        name = _SLOT_NAMES[idx]
        changes = () if new == old else (
            FieldChange(name, _show_value(name, old), _show_value(name, new)),)
        step = _REWRITE_STEPS[key] = Step(STEP_ACTION, text, "", where, depth, changes)
    return step


def _action_step(text: str, where: str, depth: int) -> Step:
    """The (immutable, shared) step of an action that changed no field."""
    key = (text, where, depth)
    step = _ACTION_STEPS.get(key)
    if step is None:
        if len(_ACTION_STEPS) >= 65536:
            _ACTION_STEPS.clear()
        step = _ACTION_STEPS[key] = Step(STEP_ACTION, text, "", where, depth)
    return step


@lru_cache(maxsize=512)
def _ct_state_text(state: int) -> str:
    names = [n for n, bit in F.CT_STATE_FLAGS.items() if state & bit]
    return "|".join(names) if names else "0"


# The order in which ovs-ofctl prints match fields (lib/match.c, match_format)
_PRINT_ORDER = {name: n for n, name in enumerate((
    "conj_id", "pkt_mark", "ct_state", "ct_zone", "ct_mark", "ct_label",
    *(f"reg{i}" for i in range(16)), "tun_id", "tun_src", "tun_dst", "metadata", "in_port",
    "vlan_tci", "dl_src", "dl_dst", "dl_type", "arp_spa", "arp_tpa", "arp_op", "arp_sha",
    "arp_tha", "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nw_proto", "nw_tos", "nw_ttl",
    "tp_src", "tp_dst", "nd_target", "nd_sll", "nd_tll", "tcp_flags",
))}


def _match_pairs(match: Match) -> tuple[tuple[str, str], ...]:
    """A compiled match written back as ovs-ofctl pairs (for learned flows)."""
    out: list[tuple[str, str]] = []
    for i, val, mask in sorted(match, key=lambda t: _PRINT_ORDER.get(F.SLOTS[t[0]], 99)):
        name = F.SLOTS[i]
        field = F.FIELDS[name] if name in F.FIELDS else None
        nbits = field.nbits if field is not None else 64
        full = (1 << nbits) - 1
        if name in F.MAC_SLOTS:
            text = F.int_to_mac(val) + ("" if mask == full else "/" + F.int_to_mac(mask))
        elif name in F.IPV4_SLOTS:
            text = F.int_to_ipv4(val) + ("" if mask == full else "/" + F.int_to_ipv4(mask))
        elif name in F.IPV6_SLOTS:
            text = F.int_to_ipv6(val) + ("" if mask == full else "/" + F.int_to_ipv6(mask))
        elif name == "vlan_tci" or mask != full:
            width = (nbits + 3) // 4
            text = f"0x{val:0{width}x}" + ("" if mask == full else f"/0x{mask:0{width}x}")
        elif name in ("tun_id", "dl_type", "metadata"):
            text = f"{val:#x}"
        else:
            text = str(val)
        out.append((name, text))
    return tuple(out)
