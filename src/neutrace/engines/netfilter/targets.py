"""The targets that do more than decide: NAT requests (SNAT, DNAT, MASQUERADE, REDIRECT and
their ranges), the side effects of LOG, CHECKSUM, MARK, CONNMARK, CT and NOTRACK on the packet's
`PacketMeta` (and its connection), and DSCP's rewrite of the header."""

from __future__ import annotations

from dataclasses import dataclass, replace

from neutrace.engines.conntrack import ConntrackTable
from neutrace.engines.netfilter.context import PacketMeta
from neutrace.engines.netfilter.matches import DSCP_CLASSES
from neutrace.packet import Packet
from neutrace.syntax.iptables import IptRule, Target
from neutrace.trace import RuleEffect


@dataclass(frozen=True, slots=True)
class NatRequest:
    """What a NAT target asked for: ``kind`` SNAT/DNAT/MASQUERADE/REDIRECT, an address ("" for
    MASQUERADE/REDIRECT: the engine picks the interface address) and an optional port range."""

    kind: str
    addr: str
    ports: tuple[int, int] | None = None
    random: bool = False  # --random / --random-fully: the kernel picks the port (or ICMP id)


def _value_mask(spec: str) -> tuple[int, int]:
    if "/" in spec:
        v, m = spec.split("/", 1)
        return int(v, 0), int(m, 0)
    return int(spec, 0), 0xFFFFFFFF



def _nat_range(spec: str) -> tuple[str, tuple[int, int] | None]:
    """``1.2.3.4``, ``1.2.3.4-1.2.3.9:1000-2000``, ``[fd00::1]:80`` -> (first addr, ports)."""
    addr, ports = spec, ""
    if spec.startswith("["):
        end = spec.index("]")
        addr, ports = spec[1:end], spec[end + 2 :] if len(spec) > end + 1 else ""
    elif spec.count(":") == 1:
        addr, ports = spec.split(":", 1)
    addr = addr.split("-", 1)[0]
    if not ports:
        return addr, None
    lo, _, hi = ports.partition("-")
    return addr, (int(lo), int(hi or lo))


def nat_request(rule: IptRule) -> NatRequest:
    """What a NAT target of ``rule`` asks for."""
    tgt = rule.target
    assert tgt is not None
    random = tgt.option("--random") is not None or tgt.option("--random-fully") is not None
    if tgt.name in ("SNAT", "DNAT"):
        opt = tgt.option("--to-source" if tgt.name == "SNAT" else "--to-destination")
        addr, ports = _nat_range(opt.value) if opt else ("", None)
        return NatRequest(tgt.name, addr, ports, random)
    opt = tgt.option("--to-ports")
    ports = None
    if opt:
        lo, _, hi = opt.value.partition("-")
        ports = (int(lo), int(hi or lo))
    return NatRequest(tgt.name, "", ports, random)


def side_effect(rule: IptRule, meta: PacketMeta, ct_table: ConntrackTable | None
                ) -> tuple[RuleEffect, tuple[int, ...]]:
    """A non-terminating target's effect on ``meta`` (and the connection), as data."""
    tgt = rule.target
    assert tgt is not None
    name = tgt.name
    if name == "LOG":
        return RuleEffect.LOG, ()
    if name == "CHECKSUM":
        return RuleEffect.CHECKSUM, ()
    if name == "MARK":
        before = meta.mark
        for o in tgt.options:
            v, m = _value_mask(o.value)
            if o.name == "--set-xmark":
                meta.mark = (meta.mark & ~m & 0xFFFFFFFF) ^ v
            elif o.name == "--set-mark":
                meta.mark = (meta.mark & ~m & 0xFFFFFFFF) | v
            elif o.name == "--and-mark":
                meta.mark &= v
            elif o.name == "--or-mark":
                meta.mark |= v
            elif o.name == "--xor-mark":
                meta.mark ^= v
        return RuleEffect.MARK, (before, meta.mark)
    if name == "CONNMARK":
        if meta.ct is None:
            return RuleEffect.CONNMARK_NO_CONNECTION, ()
        ctmark = meta.ct.mark
        nf_opt, ct_opt = tgt.option("--nfmask"), tgt.option("--ctmask")
        nfmask = int(nf_opt.value, 0) if nf_opt else 0xFFFFFFFF
        ctmask = int(ct_opt.value, 0) if ct_opt else 0xFFFFFFFF
        mask_opt = tgt.option("--mask")
        if mask_opt is not None:
            nfmask = ctmask = int(mask_opt.value, 0)
        if tgt.option("--save-mark"):
            ctmark = (ctmark & ~ctmask & 0xFFFFFFFF) ^ (meta.mark & nfmask)
        elif tgt.option("--restore-mark"):
            meta.mark = (meta.mark & ~nfmask & 0xFFFFFFFF) ^ (ctmark & ctmask)
            return RuleEffect.CONNMARK_RESTORE, (meta.mark,)
        else:
            for o in tgt.options:
                v, m = _value_mask(o.value) if o.values else (0, 0)
                if o.name == "--set-xmark":
                    ctmark = (ctmark & ~m & 0xFFFFFFFF) ^ v
                elif o.name == "--set-mark":
                    ctmark = (ctmark & ~m & 0xFFFFFFFF) | v
                elif o.name == "--and-mark":
                    ctmark &= v
                elif o.name == "--or-mark":
                    ctmark |= v
                elif o.name == "--xor-mark":
                    ctmark ^= v
        meta.ct = replace(meta.ct, mark=ctmark)
        if ct_table is not None and meta.ct_id is not None and meta.ct.confirmed:
            ct_table.update(meta.ct_id, meta.ct)
        return RuleEffect.CONNMARK_SET, (ctmark,)
    if name in ("CT", "NOTRACK") and (meta.templated or meta.ctstate):
        # xt_ct: a packet that already has a conntrack template (or entry) keeps it
        return RuleEffect.TEMPLATE_KEPT, ()
    if name == "CT":
        meta.templated = True
        if tgt.option("--notrack"):
            meta.notrack = True
            return RuleEffect.CT_NOTRACK, ()
        zone = tgt.option("--zone") or tgt.option("--zone-orig")
        if zone is not None:
            meta.zone = int(zone.value, 0)
            return RuleEffect.CT_ZONE, (meta.zone,)
        return RuleEffect.CT, ()
    if name == "NOTRACK":
        meta.templated = True
        meta.notrack = True
        return RuleEffect.NOTRACK, ()
    return RuleEffect.OTHER, ()


def set_dscp(pkt: Packet, tgt: Target) -> Packet:
    opt = tgt.option("--set-dscp")
    if opt is not None:
        dscp = int(opt.value, 0)
    else:
        cls = tgt.option("--set-dscp-class")
        dscp = DSCP_CLASSES.get(cls.value.upper(), 0) if cls else 0
    return pkt.with_(nw_tos=(dscp << 2) | (pkt.nw_tos & 3))
