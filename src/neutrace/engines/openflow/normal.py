"""The NORMAL action (layer 3): ``xlate_normal`` of ``ofproto-dpif-xlate.c`` with the MAC
learning of ``lib/mac-learning.c``.

Per-VLAN MAC learning in `OpenFlowState.macs`, access ports (``tag``) and trunks (``trunks``),
reserved destinations never forwarded, a learned destination sent to its port, anything else
flooded to the VLAN's ports except the input port. As ``ofproto/trace`` (which learns nothing)
the destination is looked up before the source is learned. Each decision is an `FdbStep`.
"""

from __future__ import annotations

from neutrace.dataplane import OvsPort
from neutrace.engines.openflow import xlate
from neutrace.engines.openflow.context import XlateCtx
from neutrace.engines.openflow.values import (
    I_DL_DST,
    I_DL_SRC,
    I_IN_PORT,
    I_VLAN,
    VLAN_CFI,
    mac_text,
)
from neutrace.engines.openflow.values import VLAN_VID_MASK as VID
from neutrace.trace import ExitCause, FdbDecision, FdbStep, FdbSwitch

# Destinations NORMAL never forwards (OVS's eth_addr_is_reserved, forward_bpdu off): STP, pause
# and the other IEEE 802.1 reserved groups, Extreme and Cisco protocols.
RESERVED_MACS = frozenset(
    [0x0180C2000000 + i for i in range(16)]
    + [0x00E02B000000, 0x00E02B000004, 0x00E02B000006, 0x01000C000000, 0x01000CCCCCCC,
       0x01000CCCCCCD, 0x01000CCDCDCD]
    + [0x01000CCCCCC0 + i for i in range(8)]
)


def _fdb(ctx: XlateCtx, decision: FdbDecision, *, mac: str = "", port: str = "",
         vlan: int = 0, tag: int | None = None) -> FdbStep:
    """Record NORMAL's ``decision`` (in the table whose flow ran NORMAL)."""
    step = FdbStep(switch=FdbSwitch.OVS_NORMAL, decision=decision, table=ctx.table, mac=mac,
                   port=port, vlan=vlan, tag=tag, depth=ctx.sdepth)
    ctx.steps.append(step)
    return step


def _input_vlan(ctx: XlateCtx, in_port: OvsPort | None, in_name: str) -> int | None:
    """The VLAN the frame belongs to (an access port's tag, else its own), or None when the
    input port does not take it."""
    tci = ctx.v[I_VLAN]
    vid = tci & VID if tci & VLAN_CFI else 0
    if in_port is not None and in_port.tag is not None:
        if vid:
            step = _fdb(ctx, FdbDecision.ACCESS_TAGGED_DROP, port=in_name, vlan=vid,
                        tag=in_port.tag)
            ctx.dropping(ExitCause.NORMAL, step=step)
            return None
        return in_port.tag
    if in_port is not None and in_port.trunks and vid not in in_port.trunks:
        step = _fdb(ctx, FdbDecision.NOT_TRUNKED_DROP, port=in_name, vlan=vid)
        ctx.dropping(ExitCause.NORMAL, step=step)
        return None
    return vid


def xlate_normal(ctx: XlateCtx) -> None:
    """The NORMAL action (see the module docstring)."""
    v = ctx.v
    br = ctx.bridge
    in_ofport = v[I_IN_PORT]
    in_port = br.by_ofport.get(in_ofport)
    in_name = in_port.name if in_port is not None else str(in_ofport)
    vlan = _input_vlan(ctx, in_port, in_name)
    if vlan is None:
        return
    state = ctx.state
    macs = state.macs.setdefault((ctx.engine.host, br.name), {})
    src, dst = v[I_DL_SRC], v[I_DL_DST]
    if dst in RESERVED_MACS:
        step = _fdb(ctx, FdbDecision.RESERVED_DROP, mac=mac_text(dst))
        ctx.dropping(ExitCause.NORMAL, step=step)
        return
    # The destination is looked up in the table as it was before this packet: what
    # ofproto/trace shows (it learns nothing); the datapath would learn first, which differs
    # only for a frame addressed to its own source MAC.
    learned = None if (dst >> 40) & 1 else macs.get((vlan, dst))
    if not (src >> 40) & 1 and in_port is not None and macs.get((vlan, src)) != in_name:
        macs[(vlan, src)] = in_name
        state.version += 1
        _fdb(ctx, FdbDecision.LEARNED, mac=mac_text(src), port=in_name, vlan=vlan)
    if learned is not None:
        if learned == in_name:
            step = _fdb(ctx, FdbDecision.INPUT_PORT_DROP, mac=mac_text(dst), port=in_name)
            ctx.dropping(ExitCause.NORMAL, step=step)
            return
        out = br.by_name.get(learned)
        if out is not None:
            _fdb(ctx, FdbDecision.FORWARD, mac=mac_text(dst), port=learned, vlan=vlan)
            _normal_output(ctx, out, vlan)
            return
    _flood(ctx, in_ofport, in_name, vlan, dst)


def _flood(ctx: XlateCtx, in_ofport: int, in_name: str, vlan: int, dst: int) -> None:
    """Flood to every other port of ``vlan`` (access ports of that tag, trunks carrying it)."""
    decision = FdbDecision.FLOOD_GROUP if (dst >> 40) & 1 else FdbDecision.FLOOD_UNKNOWN
    step = _fdb(ctx, decision, mac=mac_text(dst), vlan=vlan)
    n = 0
    for p in ctx.bridge.ports:
        if p.ofport == in_ofport or p.name == in_name:
            continue
        if p.tag is not None:
            if p.tag != vlan:
                continue
        elif p.trunks and vlan not in p.trunks:
            continue
        n += 1
        _normal_output(ctx, p, vlan)
    if not n:
        ctx.dropping(ExitCause.NORMAL, step=step)


def _normal_output(ctx: XlateCtx, port: OvsPort, vlan: int) -> None:
    """Output to ``port``: untagged on an access port (or VLAN 0), tagged with ``vlan`` on a
    trunk."""
    v = ctx.v
    saved = v[I_VLAN]
    if port.tag is not None or vlan == 0:
        v[I_VLAN] = 0
    else:
        v[I_VLAN] = (saved & 0xE000) | VLAN_CFI | vlan
    xlate.xlate_output(ctx, port.ofport, f"NORMAL {port.name}")
    v[I_VLAN] = saved
