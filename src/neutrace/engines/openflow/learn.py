"""learn() (layer 3): ``lib/learn.c``: a flow built from the packet and added to a table.

`xlate_learn` builds the learned flow's match and actions from the packet's fields (match specs
copy or set fields, load specs become ``load`` actions, output specs ``output``), keeps it in
`OpenFlowState.learned` (a later learn of the same priority and match replaces it) and records
a `LearnStep`. `match_pairs` writes a compiled match back as ovs-ofctl pairs.
"""

from __future__ import annotations

from neutrace.dataplane import Flow
from neutrace.engines.openflow.classifier import LearnedRule
from neutrace.engines.openflow.context import XlateCtx
from neutrace.engines.openflow.values import Match, Values
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields as F
from neutrace.trace import LearnStep


def _bits(v: Values, s: F.Subfield) -> int:
    """The value of subfield ``s`` of the packet."""
    return (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)


def _learned_match(v: Values, act: A.Learn) -> Match:
    """The match of the learned flow: each match spec's field set from the packet or a value."""
    slots: dict[int, list[int]] = {}
    for spec in act.specs:
        if spec.kind == "match" and spec.dst is not None:
            d = spec.dst
            bits = _bits(v, spec.src) if spec.src is not None else spec.value or 0
            idx = F.SLOT_INDEX[d.field.slot]
            mask = d.slot_mask
            cur = slots.setdefault(idx, [0, 0])
            cur[0] = (cur[0] & ~mask) | ((bits << d.shift) & mask)
            cur[1] |= mask
    return tuple((i, val & m, m) for i, (val, m) in sorted(slots.items()))


def _learned_actions(v: Values, act: A.Learn) -> str:
    """The actions of the learned flow: ``load`` and ``output`` specs, as ovs-ofctl writes
    them."""
    texts: list[str] = []
    for spec in act.specs:
        if spec.kind == "load" and spec.dst is not None:
            val = _bits(v, spec.src) if spec.src is not None else spec.value or 0
            texts.append(f"load:{val:#x}->{spec.dst.nxm()}" if val else
                         f"load:0->{spec.dst.nxm()}")
        elif spec.kind == "output" and spec.src is not None:
            texts.append(f"output:{_bits(v, spec.src)}")
    return ",".join(texts) or "drop"


def xlate_learn(ctx: XlateCtx, act: A.Learn) -> None:
    """Add (or refresh) the flow ``act`` learns from the packet."""
    v = ctx.v
    match = _learned_match(v, act)
    flow = Flow(
        table=act.table, priority=act.priority, match=match_pairs(match),
        actions=_learned_actions(v, act), cookie=act.cookie,
        idle_timeout=act.idle_timeout, hard_timeout=act.hard_timeout,
    )
    state = ctx.state
    tables = state.learned.setdefault((ctx.engine.host, ctx.bridge.name), {})
    table = tables.setdefault(act.table, {})
    old = table.get((act.priority, match))
    if old is None or old.flow != flow:
        table[(act.priority, match)] = LearnedRule(flow, match)
        state.version += 1
    ctx.steps.append(LearnStep(table=ctx.table, flow=flow, depth=ctx.sdepth))


# The order in which ovs-ofctl prints match fields (lib/match.c, match_format)
_PRINT_ORDER = {name: n for n, name in enumerate((
    "conj_id", "pkt_mark", "ct_state", "ct_zone", "ct_mark", "ct_label",
    *(f"reg{i}" for i in range(16)), "tun_id", "tun_src", "tun_dst", "metadata", "in_port",
    "vlan_tci", "dl_src", "dl_dst", "dl_type", "arp_spa", "arp_tpa", "arp_op", "arp_sha",
    "arp_tha", "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nw_proto", "nw_tos", "nw_ttl",
    "tp_src", "tp_dst", "nd_target", "nd_sll", "nd_tll", "tcp_flags",
))}


def match_pairs(match: Match) -> tuple[tuple[str, str], ...]:
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
