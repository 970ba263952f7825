"""One packet's walk through the hooks of one namespace (`Traversal`), in the kernel's order, with
connection tracking (lookup, new, related, invalid, untracked, confirm) and NAT between the tables
(bindings decided on a connection's first packet, every later packet rewritten from the
conntrack entry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from neutrace.engines.conntrack import (
    ORIGINAL,
    REPLY,
    ConntrackTable,
    CtEntry,
    has_ports,
    new_verdict,
    packet_tuple,
    rewrite,
)
from neutrace.engines.netfilter.chains import ACCEPT, ChainResult, Netfilter
from neutrace.engines.netfilter.context import HookContext, PacketMeta
from neutrace.engines.netfilter.targets import NatRequest
from neutrace.packet import Packet
from neutrace.trace import (
    ConntrackEvent,
    ConntrackStep,
    NatKind,
    NatPortEvent,
    NatPortStep,
    NatStep,
    NetfilterVerdict,
    Step,
)

PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING = (
    "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
)
CT_STEP = "conntrack"
# the tables of each hook in priority order; CT_STEP is nf_conntrack_in
HOOK_ORDER: dict[str, tuple[str, ...]] = {
    PREROUTING: ("raw", CT_STEP, "mangle", "nat"),
    INPUT: ("mangle", "filter", "security", "nat"),
    FORWARD: ("mangle", "filter", "security"),
    OUTPUT: ("raw", CT_STEP, "mangle", "nat", "filter", "security"),
    POSTROUTING: ("mangle", "nat"),
}


@dataclass
class Traversal:
    """One packet's walk through the hooks of one namespace. ``steps`` collects the trace;
    ``packet`` is rewritten by NAT as it goes; ``verdict`` (a `NetfilterVerdict`) tells why it
    stopped.

    ``nat_addr(kind, ctx)`` answers the address MASQUERADE (the out interface's) or REDIRECT (the
    in interface's) should use."""

    nf: Netfilter
    conntrack: ConntrackTable
    packet: Packet
    nat_addr: Callable[[str, HookContext], str]
    meta: PacketMeta = field(default_factory=PacketMeta)
    steps: list[Step] = field(default_factory=list)
    verdict: NetfilterVerdict | None = None
    depth: int = 0

    @property
    def family(self) -> int:
        return 6 if self.packet.is_ipv6 else 4

    def fork(self) -> Traversal:
        """A copy for one output of a flood (shares the conntrack table; own steps)."""
        return Traversal(self.nf, self.conntrack, self.packet, self.nat_addr,
                         replace(self.meta), [], None, self.depth)

    def hook(self, hook: str, ctx: HookContext) -> str:
        """Run ``hook``: ACCEPT, DROP or REJECT (``verdict`` says which rule or policy)."""
        for table in HOOK_ORDER[hook]:
            if table == CT_STEP:
                self._ct_in()
                continue
            if table == "nat":
                verdict = self._nat(hook, ctx)
            else:
                res = self.nf.run(self.family, table, hook, self.packet, self.meta, ctx,
                                  self.steps, self.conntrack)
                if res.packet is not None:
                    self.packet = res.packet
                verdict = res.verdict
                if verdict != ACCEPT:
                    self.verdict = _verdict(self.nf, table, hook, res)
            if verdict != ACCEPT:
                return verdict
        if hook in (INPUT, POSTROUTING):
            self.confirm()
        return ACCEPT

    # -- conntrack -------------------------------------------------------------------------
    def _ct_in(self) -> None:
        meta = self.meta
        if meta.ctstate:  # already tracked in this namespace (e.g. looped back)
            return
        if not self.nf.uses_conntrack:
            return
        if meta.notrack:
            meta.ctstate = "UNTRACKED"
            self._ct_step(ConntrackEvent.UNTRACKED_RAW)
            return
        tup = packet_tuple(self.packet)
        if tup is None:
            return
        hit = self.conntrack.lookup(meta.zone, tup)
        if hit is not None:
            ct_id, entry, direction = hit
            meta.ct_id, meta.direction = ct_id, direction
            if direction == REPLY:
                if not entry.seen_reply:
                    entry = replace(entry, seen_reply=True)
                    self.conntrack.update(ct_id, entry)
                meta.ctstate = "ESTABLISHED"
            else:
                meta.ctstate = "ESTABLISHED" if entry.seen_reply else "NEW"
            meta.ct = entry
            self._ct_step(ConntrackEvent.FOUND, state=meta.ctstate, direction=direction,
                          connection=entry.format())
            return
        verdict = new_verdict(self.packet)
        if verdict == "RELATED?":
            quoted = self.conntrack.related_by_payload(meta.zone, self.packet)
            if quoted is not None:
                meta.ct_id, meta.ct, meta.direction = quoted
                meta.ctstate = "RELATED"
                self._ct_step(ConntrackEvent.RELATED_QUOTED, state="RELATED",
                              direction=meta.direction, connection=meta.ct.format())
                return
            rel = self.conntrack.related(meta.zone, self.packet) if (
                self.packet.payload is None) else None
            if rel is not None:
                meta.ct, meta.ctstate = rel, "RELATED"
                meta.direction = REPLY if self.packet.dst_ip == rel.orig.src or (
                    self.packet.dst_ip == rel.reply.dst) else ORIGINAL
                self._ct_step(ConntrackEvent.RELATED, state="RELATED", direction=meta.direction,
                              connection=rel.format())
                return
            verdict = "INVALID"
        if verdict == "UNTRACKED":
            meta.ctstate = "UNTRACKED"
            self._ct_step(ConntrackEvent.UNTRACKED_ND, state="UNTRACKED", packet=self.packet)
            return
        if verdict == "INVALID":
            meta.ctstate = "INVALID"
            self._ct_step(ConntrackEvent.INVALID, state="INVALID", packet=self.packet)
            return
        meta.ct = CtEntry(zone=meta.zone, orig=tup, reply=tup.inverted())
        meta.ct_id, meta.direction, meta.ctstate = None, ORIGINAL, "NEW"
        self._ct_step(ConntrackEvent.NEW, state="NEW", direction=ORIGINAL, connection=str(tup))

    def confirm(self) -> None:
        """nf_conntrack_confirm: keep a new connection once its first packet got through."""
        ct = self.meta.ct
        if ct is None or ct.confirmed or self.meta.ctstate in ("RELATED", "INVALID", "UNTRACKED"):
            return
        existing = self.conntrack.lookup(ct.zone, ct.orig)
        if existing is not None:  # confirmed by another copy of the same packet
            self.meta.ct_id, self.meta.ct = existing[0], existing[1]
            return
        self.meta.ct_id = self.conntrack.confirm(ct)
        self.meta.ct = replace(ct, confirmed=True)
        self._ct_step(ConntrackEvent.COMMITTED, connection=self.meta.ct.format())

    def _ct_step(self, event: ConntrackEvent, state: str = "", direction: str = "",
                 connection: str = "", packet: Packet | None = None) -> None:
        """Record what conntrack did (in the packet's zone)."""
        self.steps.append(ConntrackStep(event=event, zone=self.meta.zone, state=state,
                                        direction=direction, connection=connection,
                                        packet=packet, depth=self.depth))

    # -- NAT -------------------------------------------------------------------------------
    def _nat(self, hook: str, ctx: HookContext) -> str:
        meta = self.meta
        ct = meta.ct
        if ct is None or meta.ctstate in ("INVALID", "UNTRACKED"):
            return ACCEPT
        manip = "dst" if hook in (PREROUTING, OUTPUT) else "src"
        done = ct.dst_done if manip == "dst" else ct.src_done
        if not done and meta.direction == ORIGINAL and not ct.confirmed and (
            meta.ctstate == "NEW"
        ):
            res = self.nf.run(self.family, "nat", hook, self.packet, meta, ctx, self.steps,
                              self.conntrack)
            if res.verdict != ACCEPT:
                self.verdict = _verdict(self.nf, "nat", hook, res)
                return res.verdict
            ct = meta.ct or ct
            if res.nat is not None:
                ct = self._bind(ct, res.nat, manip, ctx)
                if res.nat.random:
                    self.steps.append(NatPortStep(event=NatPortEvent.RANDOM, depth=self.depth))
            ct = replace(ct, dst_done=True) if manip == "dst" else replace(ct, src_done=True)
            meta.ct = ct
        # apply the binding to this packet
        if meta.direction == ORIGINAL:
            applies = ct.dst_nat if manip == "dst" else ct.src_nat
            target = ct.reply.inverted()
        else:
            applies = ct.src_nat if manip == "dst" else ct.dst_nat
            target = ct.orig.inverted()
        if applies:
            before = self.packet
            self.packet = rewrite(self.packet, target, manip)
            if meta.ctstate == "RELATED" and self.packet.payload is not None:
                # the quoted packet travels the other way: its other end changes alike
                inner = rewrite(self.packet.payload, target.inverted(),
                                "src" if manip == "dst" else "dst")
                self.packet = self.packet.with_(payload=inner)
            changes = before.diff(self.packet)
            if changes:
                self.steps.append(NatStep(nat=_NAT_KINDS[(manip, meta.direction)], hook=hook,
                                          related=meta.ctstate == "RELATED", depth=self.depth,
                                          changes=changes))
        return ACCEPT

    def _bind(self, ct: CtEntry, req: NatRequest, manip: str, ctx: HookContext) -> CtEntry:
        addr = req.addr or self.nat_addr(req.kind, ctx)
        if manip == "dst":
            if req.kind not in ("DNAT", "REDIRECT"):
                return ct
            port = req.ports[0] if req.ports else ct.reply.sport
            if req.ports is None or not has_ports(ct.orig.proto):
                port = ct.reply.sport
            return replace(ct, reply=replace(ct.reply, src=addr or ct.reply.src, sport=port),
                           dst_nat=True)
        if req.kind not in ("SNAT", "MASQUERADE"):
            return ct
        port = ct.reply.dport
        if req.ports is not None and has_ports(ct.orig.proto):
            port = req.ports[0]
        reply = replace(ct.reply, dst=addr or ct.reply.dst, dport=port)
        if has_ports(ct.orig.proto) and self.conntrack.lookup(ct.zone, reply) is not None:
            # nf_nat_l4proto_unique_tuple: another connection already maps to this address and
            # port, so the kernel takes a free port (in the --to range, else 1024-65535); here
            # deterministically the next free one
            lo, hi = req.ports or ((1024, 65535) if port >= 1024 else (1, 1023))
            for candidate in [*range(port + 1, hi + 1), *range(lo, port)]:
                trial = replace(reply, dport=candidate)
                if self.conntrack.lookup(ct.zone, trial) is None:
                    self.steps.append(NatPortStep(event=NatPortEvent.TAKEN, address=addr,
                                                  port=port, new_port=candidate,
                                                  depth=self.depth))
                    reply = trial
                    break
        return replace(ct, reply=reply, src_nat=True)



_NAT_KINDS = {("dst", ORIGINAL): NatKind.DNAT, ("src", ORIGINAL): NatKind.SNAT,
              ("dst", REPLY): NatKind.UN_SNAT, ("src", REPLY): NatKind.UN_DNAT}


def _verdict(nf: Netfilter, table: str, hook: str, res: ChainResult) -> NetfilterVerdict:
    """Which rule (or policy) of ``table`` at ``hook`` denied the packet."""
    return NetfilterVerdict(verdict=res.verdict, source=nf.source, table=table, hook=hook,
                            rule=res.rule)
