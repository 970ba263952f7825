"""Port mirrors (layer 3): ``mirror_packet`` of ``ofproto-dpif-xlate.c`` with the masks of
``ofproto-dpif-mirror.c``.

A mirror selects the packets received on its source ports (``mirror_ingress_packet``, before
table 0 of the bridge the packet entered) and those sent to its destination ports (after each
output to such a port), optionally only of some VLANs, and sends a copy to its output port
(through NORMAL's VLAN translation) or floods it on its output VLAN. Each mirror (and the
mirrors with the same output) copies a packet once per bridge. A mirror's output port takes no
input and is left out of NORMAL's floods.
"""

from __future__ import annotations

from neutrace.dataplane import OvsPort
from neutrace.engines.openflow import normal
from neutrace.engines.openflow.context import XlateCtx
from neutrace.engines.openflow.values import I_DL_DST, I_VLAN


def mirror_ingress(ctx: XlateCtx, port: OvsPort | None) -> None:
    """``mirror_ingress_packet``: the mirrors selecting packets received on ``port``."""
    m = ctx.bridge.mirrors
    if m is not None and port is not None:
        mirror_packet(ctx, port, m.src.get(port.name, 0))


def mirror_egress(ctx: XlateCtx, port: OvsPort) -> None:
    """After an output to ``port``: the mirrors selecting packets sent to it."""
    m = ctx.bridge.mirrors
    if m is not None:
        mirror_packet(ctx, port, m.dst.get(port.name, 0))


def mirror_packet(ctx: XlateCtx, port: OvsPort, mask: int) -> None:
    """``mirror_packet``: copy the packet (as ``port`` sees it) to the mirrors of ``mask`` not
    used yet."""
    m = ctx.bridge.mirrors
    if m is None or not mask:
        return
    xv = normal.port_vlans(port, ctx.v[I_VLAN])
    if xv is None:
        return
    mirrors = mask & ~ctx.mirrors
    while mirrors:
        i = (mirrors & -mirrors).bit_length() - 1
        mirror = m.mirrors[i]
        if m.vlans[i] and xv[0][1] not in m.vlans[i]:
            mirrors &= ~(1 << i)
            continue
        ctx.mirrors |= m.dups[i]
        if mirror.output_port is not None:
            out = ctx.bridge.by_name.get(mirror.output_port)
            if out is not None:
                normal.output_normal(ctx, out, xv)
        elif mirror.output_vlan is not None and xv[0][1] != mirror.output_vlan \
                and ctx.v[I_DL_DST] not in normal.RESERVED_MACS:
            flooded = ((xv[0][0], mirror.output_vlan, xv[0][2]), xv[1])
            for p in ctx.bridge.ports:
                if normal.includes_vlan(p, flooded) and not m.is_output(p.name):
                    normal.output_normal(ctx, p, flooded)
        mirrors &= ~ctx.mirrors
