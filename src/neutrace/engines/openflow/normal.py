"""The NORMAL action (layer 3): ``xlate_normal`` of ``ofproto-dpif-xlate.c`` with the MAC
learning of ``lib/mac-learning.c``.

Per-VLAN MAC learning in `OpenFlowState.macs`, access ports (``tag``) and trunks (``trunks``),
reserved destinations never forwarded, a learned destination sent to its port, anything else
flooded to the VLAN's ports except the input port. The source is learned first, as the datapath
does (``ofproto/trace`` learns nothing; ``-generate`` does as the datapath). Each decision is an
`FdbStep`.
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


# -- VLANs as OVS's bundles hold them (``bundle_set``, ``xvlan_*`` of ofproto-dpif-xlate.c) ------

_MODES = ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel")
# one 802.1Q header as xlate_normal holds it: (tpid present, vid, pcp bits of the TCI)
Xvlan = tuple[tuple[bool, int, int], tuple[bool, int, int]]
_NO_TAG = (False, 0, 0)


def vlan_mode(p: OvsPort) -> str:
    """The port's VLAN mode as ``port_configure`` reads it (an unknown one is trunk)."""
    if p.vlan_mode:
        return p.vlan_mode if p.vlan_mode in _MODES else "trunk"
    return "access" if p.tag is not None and 0 <= p.tag <= 4095 else "trunk"


def _bundle_vlan(p: OvsPort, mode: str) -> int:
    """``bundle->vlan``: -1 for a trunk, else the tag (0 when none)."""
    if mode == "trunk":
        return -1
    return p.tag if p.tag is not None and 0 <= p.tag <= 4095 else 0


def trunks_vlan(p: OvsPort, mode: str, vid: int) -> bool:
    """``xbundle_trunks_vlan``: a native port always trunks its native VLAN and never VLAN 0
    (unless its trunks already say so)."""
    if mode == "access":
        return False
    trunks = p.trunks
    if mode in ("native-tagged", "native-untagged"):
        native = _bundle_vlan(p, mode)
        if native != 0 and (not trunks or native not in trunks or 0 in trunks):
            if vid == native:
                return True
            if vid == 0:
                return False
    return not trunks or vid in trunks


def _includes_vlan(p: OvsPort, mode: str, xv: Xvlan) -> bool:
    """``xbundle_includes_vlan``: would a frame of ``xv`` be flooded to ``p``."""
    if mode == "access":
        return xv[0][1] == _bundle_vlan(p, mode) and xv[1][1] == 0
    if mode == "dot1q-tunnel":
        return xv[0][1] == _bundle_vlan(p, mode) and (not p.cvlans or xv[1][1] in p.cvlans)
    return trunks_vlan(p, mode, xv[0][1])


def _extract(v0: int) -> Xvlan:
    """``xvlan_extract`` of the packet's tag (the engine's packets carry at most one)."""
    if not v0 & VLAN_CFI:
        return (_NO_TAG, _NO_TAG)
    return ((True, v0 & VID, v0 & 0xE000), _NO_TAG)


def _input_translate(p: OvsPort | None, xv: Xvlan) -> Xvlan:
    """``xvlan_input_translate``: the VLANs of the frame inside the bridge."""
    if p is None:
        return xv
    mode = vlan_mode(p)
    if mode == "access":
        return ((True, _bundle_vlan(p, mode), xv[0][2]), _NO_TAG)
    if mode in ("native-tagged", "native-untagged") and not xv[0][1]:
        return ((True, _bundle_vlan(p, mode), xv[0][2]), xv[1])
    if mode == "dot1q-tunnel":
        return ((True, _bundle_vlan(p, mode), 0), xv[0])
    return xv


def _output_translate(p: OvsPort, xv: Xvlan) -> Xvlan:
    """``xvlan_output_translate``: the VLANs the copy leaves ``p`` with."""
    mode = vlan_mode(p)
    if mode == "access":
        return (_NO_TAG, _NO_TAG)
    if mode == "dot1q-tunnel" or (mode == "native-untagged"
                                  and xv[0][1] == _bundle_vlan(p, mode)):
        return (xv[1], _NO_TAG)
    return xv


def _priority_tags(p: OvsPort) -> str:
    """other_config:priority-tags as ``port_configure`` reads it."""
    pt = dict(p.other_config).get("priority-tags", "")
    return "if-nonzero" if pt in ("if-nonzero", "true") else "always" if pt == "always" \
        else "never"


def _put(out: Xvlan, tags: str) -> int:
    """``xvlan_put``: the outer TCI of the copy (the engine's packets show one tag)."""
    present, vid, pcp = out[0]
    tci = vid | pcp
    if tci or (tags == "always" and present):
        tci |= VLAN_CFI
    return tci


def port_vlans(port: OvsPort, tci: int) -> Xvlan | None:
    """The VLANs of a frame with ``tci`` as ``port`` takes it in (``input_vid_is_valid`` +
    ``xvlan_input_translate``, without a trace), None if it does not."""
    xv = _extract(tci)
    vid = xv[0][1]
    mode = vlan_mode(port)
    if (mode == "access" and vid) or (
            mode == "dot1q-tunnel" and port.cvlans and vid not in port.cvlans) or (
            mode in ("trunk", "native-tagged", "native-untagged")
            and not (vid == 0 and mode != "trunk") and not trunks_vlan(port, mode, vid)):
        return None
    return _input_translate(port, xv)


def includes_vlan(p: OvsPort, xv: Xvlan) -> bool:
    """``xbundle_includes_vlan``."""
    return _includes_vlan(p, vlan_mode(p), xv)


def _input_vlan(ctx: XlateCtx, in_port: OvsPort | None, in_name: str) -> Xvlan | None:
    """``input_vid_is_valid`` + ``xvlan_input_translate``: the frame's VLANs in the bridge, or
    None when the input port does not take it."""
    xv = _extract(ctx.v[I_VLAN])
    vid = xv[0][1]
    if in_port is not None:
        mode = vlan_mode(in_port)
        if mode == "access" and vid:
            step = _fdb(ctx, FdbDecision.ACCESS_TAGGED_DROP, port=in_name, vlan=vid,
                        tag=in_port.tag)
            ctx.dropping(ExitCause.NORMAL, step=step)
            return None
        refused = (mode == "dot1q-tunnel" and in_port.cvlans and vid not in in_port.cvlans) or (
            mode in ("trunk", "native-tagged", "native-untagged")
            and not (vid == 0 and mode != "trunk") and not trunks_vlan(in_port, mode, vid))
        if refused:
            step = _fdb(ctx, FdbDecision.NOT_TRUNKED_DROP, port=in_name, vlan=vid)
            ctx.dropping(ExitCause.NORMAL, step=step)
            return None
    return _input_translate(in_port, xv)


def xlate_normal(ctx: XlateCtx) -> None:
    """The NORMAL action (see the module docstring)."""
    v = ctx.v
    br = ctx.bridge
    in_ofport = v[I_IN_PORT]
    in_port = br.by_ofport.get(in_ofport)
    in_name = in_port.name if in_port is not None else str(in_ofport)
    mirrors = br.mirrors
    if mirrors is not None and mirrors.is_output(in_name):
        step = _fdb(ctx, FdbDecision.MIRROR_PORT_DROP, port=in_name)
        ctx.dropping(ExitCause.NORMAL, step=step)
        return
    xv = _input_vlan(ctx, in_port, in_name)
    if xv is None:
        return
    vlan = xv[0][1]
    state = ctx.state
    macs = state.macs.setdefault((ctx.engine.host, br.name), {})
    src, dst = v[I_DL_SRC], v[I_DL_DST]
    if dst in RESERVED_MACS:
        step = _fdb(ctx, FdbDecision.RESERVED_DROP, mac=mac_text(dst))
        ctx.dropping(ExitCause.NORMAL, step=step)
        return
    # With ``generate`` the source is learned before the destination is looked up, as the
    # datapath (and ``ofproto/trace -generate``) does: a frame addressed to its own source MAC
    # goes nowhere ("learned port is input port"). Plain ofproto/trace learns nothing: the
    # lookup sees the table as it was (the engine still learns, for a later NORMAL).
    learned = None if ctx.generate or (dst >> 40) & 1 else macs.get((vlan, dst))
    if not (src >> 40) & 1 and in_port is not None and macs.get((vlan, src)) != in_name:
        macs[(vlan, src)] = in_name
        state.version += 1
        _fdb(ctx, FdbDecision.LEARNED, mac=mac_text(src), port=in_name, vlan=vlan)
    if ctx.generate and not (dst >> 40) & 1:
        learned = macs.get((vlan, dst))
    if learned is not None:
        if learned == in_name:
            step = _fdb(ctx, FdbDecision.INPUT_PORT_DROP, mac=mac_text(dst), port=in_name)
            ctx.dropping(ExitCause.NORMAL, step=step)
            return
        out = br.by_name.get(learned)
        if out is not None and mirrors is not None and mirrors.is_output(learned):
            step = _fdb(ctx, FdbDecision.MIRROR_PORT_DROP, mac=mac_text(dst), port=learned)
            ctx.dropping(ExitCause.NORMAL, step=step)
            return
        if out is not None:
            _fdb(ctx, FdbDecision.FORWARD, mac=mac_text(dst), port=learned, vlan=vlan)
            output_normal(ctx, out, xv)
            return
    _flood(ctx, in_ofport, in_name, xv, dst)


def _flood(ctx: XlateCtx, in_ofport: int, in_name: str, xv: Xvlan, dst: int) -> None:
    """``xlate_normal_flood``: every other port whose VLANs include the frame's and that
    floods (no ``NO_FLOOD``)."""
    decision = FdbDecision.FLOOD_GROUP if (dst >> 40) & 1 else FdbDecision.FLOOD_UNKNOWN
    step = _fdb(ctx, decision, mac=mac_text(dst), vlan=xv[0][1])
    n = 0
    mirrors = ctx.bridge.mirrors
    for p in ctx.bridge.ports:
        if p.ofport == in_ofport or p.name == in_name or "NO_FLOOD" in p.config:
            continue
        if not _includes_vlan(p, vlan_mode(p), xv) or (
                mirrors is not None and mirrors.is_output(p.name)):
            continue
        n += 1
        output_normal(ctx, p, xv)
    if not n:
        ctx.dropping(ExitCause.NORMAL, step=step)


def output_normal(ctx: XlateCtx, port: OvsPort, xv: Xvlan) -> None:
    """``output_normal``: the copy with the VLANs ``port`` sends (priority tags as its
    other_config:priority-tags says)."""
    v = ctx.v
    saved = v[I_VLAN]
    out = _output_translate(port, xv)
    tags = _priority_tags(port)
    if tags != "never":
        out = ((out[0][0], out[0][1], saved & 0xE000 if saved & VLAN_CFI else 0), out[1])
    v[I_VLAN] = _put(out, tags)
    xlate.xlate_output(ctx, port.ofport, f"NORMAL {port.name}", allow_in_port=True)
    v[I_VLAN] = saved
