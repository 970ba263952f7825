"""OVS's ct() action (layer 3): conntrack zones, commit, nat, exec(ct_mark/ct_label) and the
recirculation to ``table`` (``ofproto-dpif-xlate.c``'s ``compose_conntrack_action``).

On a real host OVS's ct() is the kernel's nf_conntrack; here its connections live in
`OpenFlowState.conntrack` (`Conn`, keyed by the packet's slot values for speed), apart from the
kernel model of ``neutrace.engines.conntrack`` that the Linux engines use (string addresses,
ICMP types paired as the kernel pairs them). Merging the two would change which ICMP types and
protocols pair up here; that is a semantic change to make against OVS's own tests, not in a
split.

A ct() with ``table=N`` forks a clone that resumes at table N with the new conntrack fields
(`CtFork`, then `CtResume` when it resumes); the packet that goes on after ct() is the one
before conntrack.
"""

from __future__ import annotations

from neutrace.engines.openflow.context import XlateCtx
from neutrace.engines.openflow.state import Conn
from neutrace.engines.openflow.values import (
    CT_DNAT,
    CT_EST,
    CT_INV,
    CT_NEW,
    CT_RPL,
    CT_SNAT,
    CT_TRK,
    I_CT_LABEL,
    I_CT_MARK,
    I_CT_STATE,
    I_CT_ZONE,
    I_DL_TYPE,
    I_IPV6_DST,
    I_IPV6_SRC,
    I_NW_DST,
    I_NW_PROTO,
    I_NW_SRC,
    I_TP_DST,
    I_TP_SRC,
    Values,
    diff,
)
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields as F
from neutrace.trace import CtFork, CtStep

CT_SLOTS = (I_NW_SRC, I_NW_DST, I_TP_SRC, I_TP_DST, I_CT_STATE, I_CT_ZONE, I_CT_MARK,
            I_CT_LABEL)  # what ct() may change (NAT, and the conntrack fields)

Key = tuple[int, ...]


def xlate_ct(ctx: XlateCtx, act: A.Ct) -> None:
    """ct(): look the packet up in its zone, commit, NAT, set the conntrack fields, fork the
    recirculation."""
    v = ctx.v
    zone = _zone(v, act)
    before = list(v)
    conns = ctx.state.conntrack.setdefault((ctx.engine.host, zone), {})
    key = ct_key(v)
    conn, ct_state, reply_dir = _track(ctx, conns, key)
    mark, label = _exec(act, conn)  # None: exec() leaves it alone
    if act.commit and key is not None:
        conn = _commit(ctx, act, conns, conn, key, zone, v, mark, label)
    if conn is not None and act.nat is not None and conn.nat_kind:
        ct_state |= _nat_apply(conn, v, reply_dir)
    v[I_CT_STATE] = ct_state
    v[I_CT_ZONE] = zone
    v[I_CT_MARK] = conn.mark if conn is not None else ((mark or 0) if act.commit else 0)
    v[I_CT_LABEL] = conn.label if conn is not None else ((label or 0) if act.commit else 0)
    ctx.steps.append(CtStep(table=ctx.table, action=act, zone=zone, state=ct_state,
                            depth=ctx.sdepth, changes=diff(before, v, CT_SLOTS)))
    if act.table is not None:
        ctx.steps.append(CtFork(table=ctx.table, resume_table=act.table, depth=ctx.sdepth))
        ctx.recirc.append((act.table, list(v)))
        v[:] = before  # the packet that goes on after ct() is the one before conntrack


def _zone(v: Values, act: A.Ct) -> int:
    """The zone: ``zone=N`` or a subfield (``zone=NXM_NX_REG6[0..15]``)."""
    s = act.zone_src
    if s is None:
        return act.zone
    return (v[F.SLOT_INDEX[s.field.slot]] >> s.shift) & ((1 << s.nbits) - 1)


def _track(ctx: XlateCtx, conns: dict[Key, Conn], key: Key | None
           ) -> tuple[Conn | None, int, bool]:
    """The packet's connection, its ct_state and whether it goes in the reply direction."""
    if key is None:
        return None, CT_TRK | CT_INV, False
    conn = conns.get(key)
    if conn is None:
        return None, CT_TRK | CT_NEW, False
    if key == conn.reply and key != conn.orig:
        if not conn.replied:
            conn.replied = True
            ctx.state.version += 1
        return conn, CT_TRK | CT_EST | CT_RPL, True
    return conn, CT_TRK | (CT_EST if conn.replied else CT_NEW), False


def _exec(act: A.Ct, conn: Conn | None) -> tuple[int | None, int | None]:
    """exec(): the ct_mark and ct_label it sets (None: left alone); only those may be set."""
    mark = conn.mark if conn is not None else 0
    label = conn.label if conn is not None else 0
    exec_mark: int | None = None
    exec_label: int | None = None
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
    return exec_mark, exec_label


def _commit(ctx: XlateCtx, act: A.Ct, conns: dict[Key, Conn], conn: Conn | None, key: Key,
            zone: int, v: Values, mark: int | None, label: int | None) -> Conn:
    """ct(commit): the connection (created with its NAT binding), with exec()'s mark/label."""
    state = ctx.state
    if conn is None:
        conn = Conn(key, ct_reverse(key), zone)
        if act.nat is not None and act.nat.kind:
            _nat_setup(conn, act.nat, v)
        conns[key] = conn
        conns[conn.reply] = conn
        state.version += 1
    if mark is not None and conn.mark != mark:
        conn.mark = mark
        state.version += 1
    if label is not None and conn.label != label:
        conn.label = label
        state.version += 1
    return conn


def _nat_setup(conn: Conn, nat: A.Nat, v: Values) -> None:
    """The NAT binding of a new connection (IPv4; the reply comes back to the translated
    address)."""
    if not nat.ip_min or ":" in nat.ip_min:
        return
    new_ip = F.ipv4_to_int(nat.ip_min)
    r = list(conn.reply)
    if nat.kind == "src":
        conn.nat_kind = "src"
        conn.nat_orig = (v[I_NW_SRC], v[I_TP_SRC])
        conn.nat_new = (new_ip, nat.port_min or v[I_TP_SRC])
        r[2] = new_ip
        if nat.port_min:
            r[4] = nat.port_min
    elif nat.kind == "dst":
        conn.nat_kind = "dst"
        conn.nat_orig = (v[I_NW_DST], v[I_TP_DST])
        conn.nat_new = (new_ip, nat.port_min or v[I_TP_DST])
        r[1] = new_ip
        if nat.port_min:
            r[3] = nat.port_min
    else:
        return
    conn.reply = tuple(r)


def _nat_apply(conn: Conn, v: Values, reply_dir: bool) -> int:
    """Rewrite the packet by the connection's binding (un-NAT a reply); the ct_state bit."""
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


def ct_key(v: Values) -> Key | None:
    """The packet's connection key (None: not IP): ICMP echo requests and replies pair up,
    other ICMP types are their own "connection"."""
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
        t = v[I_TP_SRC]
        kind = {8: 1, 0: 1, 128: 1, 129: 1}.get(t, t + 1000)
        return (proto, src, dst, kind, 0)
    return (proto, src, dst, 0, 0)


def ct_reverse(key: Key) -> Key:
    """The key of the other direction."""
    proto, src, dst, sp, dp = key
    if proto in (1, 58):
        return (proto, dst, src, sp, dp)
    return (proto, dst, src, dp, sp)
