"""Action translation (layer 3): ``ofproto-dpif-xlate.c`` in Python.

`visit` runs one bridge's pipeline for a packet from table 0 (then the recirculations ct()
asked for) and returns its `BridgeVisit`. `xlate_table` looks the packet up in a table (flows and
learned flows, conjunctive matches) and runs the matched flow's actions; `xlate_actions` is
``do_xlate_actions``: one ``match`` over the closed `neutrace.syntax.ofactions.Action` union,
ending in ``assert_never`` so that a new action does not type-check until it is handled here.
Outputs (`xlate_output`) go to a port, a tunnel port, a patch port (the peer bridge's visit
runs as a child) or NORMAL (``normal.xlate_normal``); ct() and learn() live in ``ct`` and
``learn``.

Limits as OVS: resubmit/goto_table/patch recursion MAX_DEPTH (64), MAX_RESUBMITS (4096) per
translation, MAX_RECIRC recirculations. Steps are facts (``neutrace.trace``), shared from caches
where they repeat; their words are ``neutrace.render.steps``' and
``neutrace.render.fates``'.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, assert_never

from neutrace.dataplane import Flow, OvsPort
from neutrace.engines.openflow import ct, group, learn, mirror, normal
from neutrace.engines.openflow.bridge import Bridge
from neutrace.engines.openflow.classifier import prereq_ok
from neutrace.engines.openflow.context import XlateCtx
from neutrace.engines.openflow.state import OpenFlowState
from neutrace.engines.openflow.values import (
    CT_NEW,
    CT_TRK,
    I_CONJ_ID,
    I_CT_LABEL,
    I_CT_MARK,
    I_CT_STATE,
    I_CT_ZONE,
    I_DL_TYPE,
    I_IN_PORT,
    I_METADATA,
    I_NW_FRAG,
    I_NW_PROTO,
    I_NW_TTL,
    I_TP_DST,
    I_TP_SRC,
    I_TUN_DST,
    I_TUN_ID,
    I_TUN_SRC,
    I_VLAN,
    N_PACKET,
    N_SLOTS,
    OFPP_LOCAL,
    VLAN_CFI,
    VLAN_VID_MASK,
    Values,
    change,
    diff,
    ipv4_int,
    packet_values,
)
from neutrace.engines.results import BridgeVisit, ExitKind, OfExit
from neutrace.errors import SyntaxParseError
from neutrace.packet import FieldChange, Packet
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields as F
from neutrace.trace import (
    ActionStep,
    ConjunctionMatch,
    CtResume,
    ExitCause,
    LimitKind,
    LimitStep,
    OutputProblem,
    OutputSkipped,
    PatchOutput,
    Step,
    TableLookup,
    TtlExceeded,
    TunnelOutput,
)

if TYPE_CHECKING:
    from neutrace.engines.openflow.engine import OpenFlowEngine

MAX_DEPTH = 64  # OVS's MAX_DEPTH for resubmit/goto_table/patch-port recursion
MAX_RESUBMITS = 4096  # OVS's MAX_RESUBMITS per translation
MAX_RECIRC = 16

_DROP = A.Drop()  # the action of a flow with no actions (``actions=drop`` or empty)


# -- a visit ----------------------------------------------------------------------------------


def visit(ctx: XlateCtx, patched: bool = False) -> BridgeVisit:
    """Run ``ctx``'s bridge from table 0, then the recirculations ct() asked for. The first
    lookup of a bridge the packet entered (or recirculated into) is not counted against the
    limits; a patch peer's is, as ``patch_port_output``'s ``xlate_table_action`` (``patched``)."""
    ctx.patch_chain.append(ctx.bridge.name)
    try:
        if patched:
            xlate_table(ctx, 0, limit=LimitKind.PATCH_CHAIN)
        else:
            in_port = ctx.bridge.by_name.get(ctx.in_port)
            mirrors = ctx.bridge.mirrors
            if mirrors is not None and mirrors.is_output(ctx.in_port):
                # "dropping packet received on port ..., which is reserved exclusively for
                # mirroring": no table is looked up
                ctx.dropping(ExitCause.MIRROR_PORT)
            elif in_port is not None and in_port.stp_state in _STP_NO_RECEIVE:
                ctx.dropping(ExitCause.STP_PORT)  # may_receive: neither forwarding nor learning
            else:
                mirror.mirror_ingress(ctx, in_port)
                xlate_table(ctx, 0, initial=True)
        n = 0
        while ctx.recirc and n < MAX_RECIRC:
            n += 1
            table_id, v = ctx.recirc.pop(0)
            if ctx.ct_next is not None:  # ofproto/trace --ct-next (default trk,new)
                v[I_CT_STATE] = ctx.ct_next.pop(0) if ctx.ct_next else CT_TRK | CT_NEW
            ctx.v[:] = v
            ctx.stopped = False
            ctx.sdepth = 0
            ctx.depth = 0  # a thawed translation starts afresh (``xlate_actions``)
            ctx.resubmits = 0
            ctx.steps.append(CtResume(table=table_id, state=v[I_CT_STATE]))
            xlate_table(ctx, table_id, initial=True)
        group.run_action_set(ctx)
    finally:
        ctx.patch_chain.pop()
    exits = ctx.exits
    if not exits:
        cause, table, flow, step = ctx.drop or (ExitCause.NO_OUTPUT, None, None, None)
        exits = [OfExit(kind=ExitKind.DROP, cause=cause, table=table, flow=flow, step=step)]
    return BridgeVisit(ctx.bridge.name, ctx.in_port, ctx.packet, tuple(ctx.steps),
                       tuple(exits))


def start(engine: OpenFlowEngine, state: OpenFlowState, bridge: Bridge, in_port: str,
          packet: Packet, depth: int = 0, values: Values | None = None,
          parent: XlateCtx | None = None, ct_next: list[int] | None = None,
          generate: bool = True, metadata: tuple[tuple[str, int], ...] = ()) -> BridgeVisit:
    """A visit of ``bridge`` (a patch peer's when ``parent`` is the visit that output to it:
    the translation's counters carry over; ``ct_next``: see `OpenFlowEngine.run`)."""
    ofport = bridge.ofport(in_port)
    assert ofport is not None
    if values is None:
        values = packet_values(packet, ofport)
        for name, value in metadata:
            values[F.SLOT_INDEX[name]] = value
    ctx = XlateCtx(engine, state, bridge, in_port, packet, values, depth,
                   parent.resubmits if parent else 0, parent.patch_chain if parent else None)
    ctx.ct_next = parent.ct_next if parent is not None else ct_next
    ctx.generate = parent.generate if parent is not None else generate
    if parent is not None:
        ctx.table = parent.table
    result = visit(ctx, patched=parent is not None)
    if parent is not None:
        parent.resubmits = ctx.resubmits
    return result


def xlate_limit(ctx: XlateCtx, limit: LimitKind, bound: int, chain: tuple[str, ...] = ()) -> None:
    """A translation limit stops this copy."""
    step = LimitStep(limit=limit, bound=bound, chain=chain, depth=ctx.sdepth)
    ctx.steps.append(step)
    ctx.exits.append(OfExit(kind=ExitKind.LIMIT, cause=ExitCause.LIMIT, step=step))
    ctx.stopped = True


# -- tables -----------------------------------------------------------------------------------


def lookup(ctx: XlateCtx, table_id: int) -> tuple[Flow | None, ConjunctionMatch | None]:
    """The flow of ``table_id`` the packet matches (flows, learned flows, then conjunctive
    matches above them), and the conjunction that completed, if one did."""
    br = ctx.bridge
    table = br.table(table_id)
    learned_all = ctx.state.learned
    by_bridge = learned_all.get((ctx.engine.host, br.name)) if learned_all else None
    learned = by_bridge.get(table_id) if by_bridge else None
    v = ctx.v
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
            hit = _conjunction(ctx, table_id, cands, floor)
            if hit is not None:
                return hit
    return best, None


def _conjunction(ctx: XlateCtx, table_id: int, cands: list[Flow], floor: int
                 ) -> tuple[Flow, ConjunctionMatch] | None:
    """The flow matching ``conj_id`` of the best conjunction whose every clause matched."""
    seen: dict[tuple[int, int], set[int]] = {}
    need: dict[tuple[int, int], int] = {}
    for f in cands:
        for c in A.parse_actions(f.actions):
            if isinstance(c, A.Conjunction):
                seen.setdefault((f.priority, c.id), set()).add(c.clause)
                need[(f.priority, c.id)] = c.n_clauses
    done = sorted((k for k, got in seen.items() if len(got) >= need[k]),
                  key=lambda k: (-k[0], k[1]))
    table = ctx.bridge.table(table_id)
    assert table is not None
    v = ctx.v
    for prio, cid in done:
        saved = v[I_CONJ_ID]
        v[I_CONJ_ID] = cid
        hit = table.lookup(v, floor)
        v[I_CONJ_ID] = saved
        if hit is not None:
            return hit, ConjunctionMatch(table=table_id, conj_id=cid, priority=prio,
                                         depth=ctx.sdepth)
    return None


def xlate_table(ctx: XlateCtx, table_id: int, in_port: int | None = None, *,
                initial: bool = False, limit: LimitKind = LimitKind.DEPTH) -> None:
    """Look the packet up in ``table_id`` (with ``in_port`` as the input port for the lookup
    only, as ``rule_dpif_lookup_from_table`` does) and execute the matched flow's actions.

    As ``xlate_table_action``: a lookup that is not the ``initial`` one of a translation first
    checks the depth (MAX_DEPTH) and the resubmit count (MAX_RESUBMITS); the matched flow's
    actions run one level deeper only when ``table_id`` is not after the table that asked
    (``xlate_recursively``'s ``deepens``), and count as one resubmit."""
    if not initial:
        if ctx.depth >= MAX_DEPTH:
            chain = (*ctx.patch_chain,) if limit is LimitKind.PATCH_CHAIN else ()
            xlate_limit(ctx, limit, MAX_DEPTH, chain)
            return
        if ctx.resubmits >= MAX_RESUBMITS:
            xlate_limit(ctx, LimitKind.RESUBMITS, MAX_RESUBMITS)
            return
    deepens = not initial and table_id <= ctx.table
    ctx.table = table_id
    v = ctx.v
    ports = v[I_TP_SRC], v[I_TP_DST]
    if v[I_NW_FRAG] & 1 and ctx.bridge.spec.frag_mode != "nx-match":
        # rule_dpif_lookup_from_table: in frags=normal a fragment is looked up without L4
        # ports; in frags=drop it meets OVS's internal drop rule
        if ctx.bridge.spec.frag_mode == "drop":
            ctx.steps.append(ctx.engine.table_step(table_id, None, ctx.sdepth))
            ctx.dropping(ExitCause.TABLE_MISS)
            return
        v[I_TP_SRC] = v[I_TP_DST] = 0
    if in_port is None:
        flow, conj = lookup(ctx, table_id)
    else:
        saved = v[I_IN_PORT]
        v[I_IN_PORT] = in_port
        flow, conj = lookup(ctx, table_id)
        v[I_IN_PORT] = saved
    v[I_TP_SRC], v[I_TP_DST] = ports
    ctx.steps.append(ctx.engine.table_step(table_id, flow, ctx.sdepth))
    if flow is None:
        ctx.dropping(ExitCause.TABLE_MISS)
        return
    if conj is not None:
        ctx.steps.append(conj)
    if flow.unsupported:
        raise SyntaxParseError(
            f"bridge {ctx.bridge.name}", f"table={flow.table}, priority={flow.priority}"
            + (f", cookie={flow.cookie:#x}" if flow.cookie else ""),
            f"the packet hits a flow neutrace does not simulate: {flow.unsupported}",
            "trace a packet that misses this flow, or check it with --compare-ovs")
    if not initial:
        ctx.resubmits += 1
    actions = A.parse_actions(flow.actions)
    if not actions or (len(actions) == 1 and isinstance(actions[0], A.Drop)):
        ctx.steps.append(action_step(_DROP, table_id, ctx.sdepth))
        ctx.dropping(ExitCause.FLOW_DROPS, flow=flow)
        return
    ctx.depth += deepens
    xlate_actions(ctx, actions)
    ctx.depth -= deepens


def resubmit(ctx: XlateCtx, table_id: int, in_port: int | None = None) -> None:
    """Continue in ``table_id`` (``in_port``: the input port of its lookup), then come back
    to this table's actions."""
    table = ctx.table
    ctx.sdepth += 1
    xlate_table(ctx, table_id, in_port)
    ctx.sdepth -= 1
    ctx.table = table


# -- actions ----------------------------------------------------------------------------------


def xlate_actions(ctx: XlateCtx, actions: Sequence[A.Action]) -> None:
    """``do_xlate_actions``: run ``actions`` in order until one stops the translation."""
    steps = ctx.steps
    for act in actions:
        if ctx.stopped:
            return
        match act:
            case A.Load() | A.Move() | A.SetField() | A.SetVlanVid() | A.StripVlan() \
                    | A.PushVlan() | A.SetVlanPcp() | A.SetTunnel() | A.WriteMetadata():
                idx = target_slot(act)
                old = ctx.v[idx]
                rewrite(ctx.v, act)
                steps.append(rewrite_step(act, ctx.table, ctx.sdepth, idx, old, ctx.v[idx]))
            case A.Resubmit():
                steps.append(action_step(act, ctx.table, ctx.sdepth))
                _resubmit_action(ctx, act)
            case A.GotoTable():
                steps.append(action_step(act, ctx.table, ctx.sdepth))
                resubmit(ctx, act.table)
                return
            case A.Output():
                steps.append(action_step(act, ctx.table, ctx.sdepth))
                _output_action(ctx, act)
            case A.Ct():
                ct.xlate_ct(ctx, act)
            case _:
                if not _control(ctx, act):
                    return


def _control(ctx: XlateCtx, act: A.Action) -> bool:
    """The less frequent actions (`xlate_actions`' other arms); False stops the actions."""
    steps = ctx.steps
    match act:
        case A.Normal() | A.Conjunction() | A.Learn() | A.InPort() | A.Local() \
                | A.OutputReg() | A.Flood() | A.Controller() | A.Clone() | A.Note() | A.NoOp():
            steps.append(action_step(act, ctx.table, ctx.sdepth))
            _port_action(ctx, act)
        case A.Drop():
            steps.append(action_step(act, ctx.table, ctx.sdepth))
            ctx.dropping(ExitCause.DROP_ACTION)
            return False
        case A.Exit():
            steps.append(action_step(act, ctx.table, ctx.sdepth))
            ctx.stopped = True
            return False
        case A.WriteActions():
            steps.append(action_step(act, ctx.table, ctx.sdepth))
            ctx.action_set.extend(act.actions)  # type: ignore[arg-type]
        case A.ClearActions():
            steps.append(action_step(act, ctx.table, ctx.sdepth))
            ctx.action_set.clear()
        case A.Group():
            steps.append(action_step(act, ctx.table, ctx.sdepth))
            group.xlate_group(ctx, act.group_id)
        case A.DecTtl():
            return _dec_ttl(ctx, act)
        case A.CtClear():
            before = list(ctx.v)
            rewrite(ctx.v, act)
            steps.append(ActionStep(table=ctx.table, action=act, depth=ctx.sdepth,
                                    changes=diff(before, ctx.v)))
        case A.Load() | A.Move() | A.SetField() | A.SetVlanVid() | A.StripVlan() | A.PushVlan() \
                | A.SetVlanPcp() | A.SetTunnel() | A.WriteMetadata() | A.Resubmit() \
                | A.GotoTable() | A.Output() | A.Ct():
            raise AssertionError(f"{act!r} is handled by xlate_actions")
        case _:
            assert_never(act)
    return True


def _port_action(ctx: XlateCtx, act: A.Normal | A.Conjunction | A.Learn | A.InPort | A.Local
                 | A.OutputReg | A.Flood | A.Controller | A.Clone | A.Note | A.NoOp) -> None:
    """What an action whose step is already recorded does."""
    v = ctx.v
    match act:
        case A.Normal():
            normal.xlate_normal(ctx)
        case A.Learn():
            learn.xlate_learn(ctx, act)
        case A.InPort():
            xlate_output(ctx, v[I_IN_PORT], act.text, allow_in_port=True)
        case A.Local():
            xlate_output(ctx, OFPP_LOCAL, act.text)
        case A.OutputReg():
            src = act.src
            xlate_output(ctx, (v[F.SLOT_INDEX[src.field.slot]] >> src.shift)
                         & ((1 << src.nbits) - 1), act.text)
        case A.Flood():
            # ``flood_packets``: every port but the input one (FLOOD: not the NO_FLOOD ones)
            for p in ctx.bridge.ports:
                if p.ofport != v[I_IN_PORT] and (act.all_ports or "NO_FLOOD" not in p.config):
                    xlate_output(ctx, p.ofport, act.text, check_stp=not act.all_ports)
        case A.Controller():
            ctx.exits.append(OfExit(kind=ExitKind.CONTROLLER, packet=ctx.current_packet(),
                                    cause=ExitCause.CONTROLLER_ACTION, table=ctx.table,
                                    step=ctx.steps[-1]))
        case A.Clone():
            _clone(ctx, act)
        case A.Conjunction() | A.Note() | A.NoOp():
            pass
        case _:
            assert_never(act)


def _resubmit_action(ctx: XlateCtx, act: A.Resubmit) -> None:
    """``resubmit([port],[table])``: the port replaces in_port for the lookup."""
    target = ctx.table if act.table is None else act.table
    if act.port is None:
        resubmit(ctx, target)
        return
    port = resolve_port(ctx, act.port)
    if port == F.OFPP_IN_PORT:
        port = ctx.v[I_IN_PORT]
    # the port is the input port of the lookup only: the actions of the flow it matches see
    # the packet's own in_port again (``rule_dpif_lookup_from_table`` restores it)
    resubmit(ctx, target, port if port is not None else F.OFPP_NONE)


def _output_action(ctx: XlateCtx, act: A.Output) -> None:
    """``output:PORT`` (a name or number as written)."""
    port = resolve_port(ctx, act.port)
    if port is None:
        ctx.steps.append(OutputSkipped(table=ctx.table, problem=OutputProblem.NONEXISTENT_PORT,
                                       port=act.port, depth=ctx.sdepth))
        return
    if act.max_len is not None and not _truncatable(ctx, port):
        return
    xlate_output(ctx, port, act.text)


def _truncatable(ctx: XlateCtx, port: int) -> bool:
    """``xlate_output_trunc_action``: output(port=..,max_len=..) sends nothing to a reserved
    port (but LOCAL and IN_PORT), the input port or a patch port."""
    if port == F.OFPP_IN_PORT:
        port = ctx.v[I_IN_PORT]
    if port in (F.OFPP_TABLE, F.OFPP_NORMAL, F.OFPP_FLOOD, F.OFPP_ALL, F.OFPP_CONTROLLER,
                F.OFPP_NONE):
        return False
    if port == ctx.v[I_IN_PORT]:
        ctx.steps.append(OutputSkipped(table=ctx.table, problem=OutputProblem.INPUT_PORT,
                                       depth=ctx.sdepth))
        return False
    p = ctx.bridge.by_ofport.get(port)
    return p is not None and p.type != "patch"


def _clone(ctx: XlateCtx, act: A.Clone) -> None:
    """``clone(...)``: the actions run on a copy, then a copy of the action set
    (``clone_xlate_actions``); the packet and the action set go on unchanged."""
    saved_v = list(ctx.v)
    saved_set = ctx.action_set
    ctx.action_set = list(saved_set)
    ctx.depth += 1
    ctx.sdepth += 1
    xlate_actions(ctx, act.actions)  # type: ignore[arg-type]
    group.run_action_set(ctx)
    ctx.depth -= 1
    ctx.sdepth -= 1
    ctx.v[:] = saved_v
    ctx.action_set = saved_set
    ctx.stopped = False


def _dec_ttl(ctx: XlateCtx, act: A.DecTtl) -> bool:
    """``dec_ttl``: an IP packet with a TTL of 1 or less goes to the controller (invalid_ttl)
    and processing stops, as OVS does."""
    v = ctx.v
    steps = ctx.steps
    if v[I_DL_TYPE] in (F.ETH_TYPE_IP, F.ETH_TYPE_IPV6) and v[I_NW_TTL] <= 1:
        steps.append(action_step(act, ctx.table, ctx.sdepth))
        steps.append(TtlExceeded(table=ctx.table, depth=ctx.sdepth))
        ctx.exits.append(OfExit(kind=ExitKind.CONTROLLER, packet=ctx.current_packet(),
                                cause=ExitCause.TTL_EXCEEDED, table=ctx.table))
        ctx.stopped = True
        return False
    old = v[I_NW_TTL]
    rewrite(v, act)
    changes = () if v[I_NW_TTL] == old else (change(I_NW_TTL, old, v[I_NW_TTL]),)
    steps.append(ActionStep(table=ctx.table, action=act, depth=ctx.sdepth, changes=changes))
    return True


def rewrite(v: Values, act: A.Action) -> None:
    """The field rewrites of an action (the others change nothing here)."""
    match act:
        case A.SetVlanVid():
            v[I_VLAN] = (v[I_VLAN] & ~VLAN_VID_MASK) | VLAN_CFI | act.vid
        case A.SetVlanPcp():
            v[I_VLAN] = (v[I_VLAN] & ~0xE000) | VLAN_CFI | (act.pcp << 13)
        case A.StripVlan():
            v[I_VLAN] = 0
        case A.PushVlan():
            if not v[I_VLAN] & VLAN_CFI:
                v[I_VLAN] = VLAN_CFI
        case A.SetField():
            _set_field(v, act)
        case A.Load():
            sub = act.dst
            idx = F.SLOT_INDEX[sub.field.slot]
            mask = sub.slot_mask
            v[idx] = (v[idx] & ~mask) | ((act.value << sub.shift) & mask)
        case A.Move():
            s, d = act.src, act.dst
            bits = (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)
            idx = F.SLOT_INDEX[d.field.slot]
            mask = d.slot_mask
            v[idx] = (v[idx] & ~mask) | ((bits << d.shift) & mask)
        case A.SetTunnel():
            v[I_TUN_ID] = act.tun_id
        case A.DecTtl():
            if v[I_DL_TYPE] in (F.ETH_TYPE_IP, F.ETH_TYPE_IPV6):
                v[I_NW_TTL] -= 1
        case A.WriteMetadata():
            v[I_METADATA] = (v[I_METADATA] & ~act.mask) | (act.value & act.mask)
        case A.CtClear():
            v[I_CT_STATE] = v[I_CT_ZONE] = v[I_CT_MARK] = v[I_CT_LABEL] = 0
        case _:
            pass


def _set_field(v: Values, act: A.SetField) -> None:
    """``set_field`` (and ``mod_*``): applied only when the packet has that header, as OVS."""
    fld = act.field
    prereq = fld.prereq
    if not prereq_ok(prereq, v[I_DL_TYPE], v[I_NW_PROTO], v[I_TP_SRC]) or (
            prereq == F.P_VLAN and not v[I_VLAN] & VLAN_CFI):
        return
    idx = F.SLOT_INDEX[fld.slot]
    mask = act.mask << fld.ofs
    v[idx] = (v[idx] & ~mask) | ((act.value << fld.ofs) & mask)


def target_slot(act: A.Load | A.Move | A.SetField | A.SetVlanVid | A.StripVlan | A.PushVlan
                | A.SetVlanPcp | A.SetTunnel | A.WriteMetadata) -> int:
    """The one slot a rewriting action changes."""
    match act:
        case A.Load() | A.Move():
            return F.SLOT_INDEX[act.dst.field.slot]
        case A.SetField():
            return F.SLOT_INDEX[act.field.slot]
        case A.SetVlanVid() | A.StripVlan() | A.PushVlan() | A.SetVlanPcp():
            return I_VLAN
        case A.SetTunnel():
            return I_TUN_ID
        case A.WriteMetadata():
            return I_METADATA
        case _:
            assert_never(act)


def resolve_port(ctx: XlateCtx, port: str) -> int | None:
    """A port as written in an action (name, number, reserved name) as an ofport."""
    try:
        return F.parse_port(port, ctx.bridge.ofport)
    except F.FieldValueError:
        return None


# -- outputs ----------------------------------------------------------------------------------


# STP/RSTP port states (ovs-vsctl list port's status:stp_state, rstp_status:rstp_port_state)
_STP_NO_FORWARD = frozenset({"listening", "learning", "blocking", "discarding"})
_STP_NO_RECEIVE = frozenset({"listening", "blocking", "discarding"})


def xlate_output(ctx: XlateCtx, ofport: int, text: str, allow_in_port: bool = False,
                 check_stp: bool = True) -> None:
    """Output to ``ofport``: a reserved port (IN_PORT, NORMAL, CONTROLLER, FLOOD/ALL), a patch
    port, a tunnel port, or a port that leaves the switch."""
    v = ctx.v
    if ofport == F.OFPP_IN_PORT:
        ofport, allow_in_port = v[I_IN_PORT], True
    if ofport == F.OFPP_NORMAL:
        normal.xlate_normal(ctx)
        return
    if ofport == F.OFPP_CONTROLLER:
        ctx.exits.append(OfExit(kind=ExitKind.CONTROLLER, packet=ctx.current_packet(),
                                cause=ExitCause.CONTROLLER_PORT, table=ctx.table))
        return
    if ofport in (F.OFPP_FLOOD, F.OFPP_ALL):
        xlate_actions(ctx, (_flood(ofport == F.OFPP_ALL, text),))
        return
    if ofport == v[I_IN_PORT] and not allow_in_port:
        ctx.steps.append(OutputSkipped(table=ctx.table, problem=OutputProblem.INPUT_PORT,
                                       depth=ctx.sdepth))
        return
    port = ctx.bridge.by_ofport.get(ofport)
    if port is None:
        ctx.steps.append(OutputSkipped(table=ctx.table, problem=OutputProblem.NONEXISTENT_PORT,
                                       depth=ctx.sdepth))
        return
    if "NO_FWD" in port.config:
        ctx.steps.append(OutputSkipped(table=ctx.table, problem=OutputProblem.NO_FORWARD,
                                       port=port.name, depth=ctx.sdepth))
        return
    if check_stp and port.stp_state in _STP_NO_FORWARD:
        ctx.steps.append(OutputSkipped(table=ctx.table,
                                       problem=OutputProblem.STP_NOT_FORWARDING,
                                       port=port.name, depth=ctx.sdepth))
        return
    if port.type == "patch":
        xlate_patch(ctx, port)
        return
    if port.is_tunnel:
        xlate_tunnel(ctx, port)
    else:
        ctx.exits.append(OfExit(kind=ExitKind.OUTPUT, port=port.name,
                                packet=ctx.current_packet()))
    mirror.mirror_egress(ctx, port)


def xlate_tunnel(ctx: XlateCtx, port: OvsPort) -> None:
    """Output to a tunnel port: the copy carries the port's tun_id (``key``/``out_key``, or the
    packet's for ``flow``) and its local/remote IPs (the packet's tun_src/tun_dst, as set_field
    set them, for ``flow``)."""
    opts = dict(port.options)
    key_opt = opts.get("out_key") or opts.get("key") or "0"
    v = ctx.v
    tun_id = v[I_TUN_ID] if key_opt == "flow" else F.parse_int(key_opt)
    remote = opts.get("remote_ip") or ""
    local = opts.get("local_ip") or ""
    saved = v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST]
    v[I_TUN_ID] = tun_id
    if local == "flow":
        local = F.int_to_ipv4(v[I_TUN_SRC]) if v[I_TUN_SRC] else ""
    else:
        v[I_TUN_SRC] = ipv4_int(local) if local and ":" not in local else 0
    if remote == "flow":
        remote = F.int_to_ipv4(v[I_TUN_DST]) if v[I_TUN_DST] else ""
    else:
        v[I_TUN_DST] = ipv4_int(remote) if remote and ":" not in remote else 0
    out = ctx.current_packet()
    v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST] = saved
    ctx.steps.append(TunnelOutput(table=ctx.table, port=port.name, tunnel_type=port.type,
                                  tun_id=tun_id, local_ip=local, remote_ip=remote,
                                  depth=ctx.sdepth))
    ctx.exits.append(OfExit(kind=ExitKind.OUTPUT, port=port.name, packet=out))


def xlate_patch(ctx: XlateCtx, port: OvsPort) -> None:
    """``patch_port_output``: the peer bridge's visit runs now, as a child; OVS clears the
    tunnel metadata, registers, metadata and conntrack state at a patch port."""
    engine = ctx.engine
    peer = port.peer or ""
    peer_br = engine.bridge_of_port(peer)
    if peer_br is None:
        step = PatchOutput(table=ctx.table, port=port.name, peer=peer, peer_bridge=None,
                           depth=ctx.sdepth)
        ctx.steps.append(step)
        ctx.exits.append(OfExit(kind=ExitKind.DROP, port=port.name, packet=ctx.current_packet(),
                                cause=ExitCause.PATCH_NO_PEER, step=step))
        return
    v = ctx.v
    saved = v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST]
    v[I_TUN_ID] = v[I_TUN_SRC] = v[I_TUN_DST] = 0
    inner = ctx.current_packet()
    v[I_TUN_ID], v[I_TUN_SRC], v[I_TUN_DST] = saved
    child_v = [0] * N_SLOTS
    child_v[:N_PACKET] = v[:N_PACKET]
    child_v[I_TUN_ID] = child_v[I_TUN_SRC] = child_v[I_TUN_DST] = 0
    child_v[I_IN_PORT] = peer_br.by_name[peer].ofport
    ctx.steps.append(PatchOutput(table=ctx.table, port=port.name, peer=peer,
                                 peer_bridge=peer_br.name, depth=ctx.sdepth))
    child = start(engine, ctx.state, peer_br, peer, inner, ctx.depth, child_v, parent=ctx)
    ctx.exits.append(OfExit(kind=ExitKind.PATCH, port=port.name, packet=inner, next=child))


@lru_cache(maxsize=1024)
def _flood(all_ports: bool, text: str) -> A.Flood:
    """The FLOOD/ALL action an output to the FLOOD or ALL port runs (one object per text, so
    its step is shared)."""
    return A.Flood(all_ports, text)


# -- shared steps -----------------------------------------------------------------------------

_ACTION_STEPS: dict[tuple[int, int, int], ActionStep] = {}
_REWRITE_STEPS: dict[tuple[int, int, int, int, int, int], ActionStep] = {}


def action_step(act: A.Action, table: int, depth: int) -> ActionStep:
    """The (immutable, shared) step of an action that changed no field. The step holds the
    action, so the id in the key cannot be another action's while the entry lives."""
    key = (id(act), table, depth)
    step = _ACTION_STEPS.get(key)
    if step is None:
        if len(_ACTION_STEPS) >= 65536:
            _ACTION_STEPS.clear()
        step = _ACTION_STEPS[key] = ActionStep(table=table, action=act, depth=depth)
    return step


def rewrite_step(act: A.Action, table: int, depth: int, idx: int, old: int,
                 new: int) -> ActionStep:
    """The (immutable, shared) step of an action that set slot ``idx`` from ``old`` to
    ``new``."""
    key = (id(act), table, depth, idx, old, new)
    step = _REWRITE_STEPS.get(key)
    if step is None:
        if len(_REWRITE_STEPS) >= 65536:
            _REWRITE_STEPS.clear()
        changes: tuple[FieldChange, ...] = () if new == old else (change(idx, old, new),)
        step = _REWRITE_STEPS[key] = ActionStep(table=table, action=act, depth=depth,
                                                changes=changes)
    return step


def table_step(cache: dict[tuple[int, int, int], tuple[Flow | None, Step]], table: int,
               flow: Flow | None, depth: int) -> Step:
    """The (shared) step of a lookup in ``table`` that matched ``flow`` (or missed)."""
    key = (id(flow), table, depth)
    cached = cache.get(key)
    if cached is None or cached[0] is not flow:
        if len(cache) >= 65536:
            cache.clear()
        cached = cache[key] = (flow, TableLookup(table=table, flow=flow, depth=depth))
    return cached[1]
