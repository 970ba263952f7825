"""The walk drawn on a host's diagram (layer 3): which devices and wires each copy of the packet
crossed on that host, what changed on the way (VLAN tag pushed or stripped, tunnel id, VXLAN
encapsulation with its outer header, NAT), and each copy's fate where it ended — or, for a copy
that left the host (a tunnel, a physical segment), where it left, with what became of it beyond.

Read from the `Trace` data only (hops, their ports and packets, dispositions), never from rendered
text. A `Mark` set per trace: `PathEdge`s (a wire crossed, or a way through one element), the
nodes passed, `Fate`s, and where the walk started.
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.packet import Packet
from neutrace.render.diagram.structure import E_INTERNAL, E_TAP, E_VETH, HostDiagram
from neutrace.render.packets import packet_summary
from neutrace.trace import (
    HOP_LINUX_BRIDGE,
    HOP_NAMESPACE,
    HOP_OVS,
    HOP_SEGMENT,
    HOP_UNDERLAY,
    HOP_VM,
    Branch,
    Disposition,
    Hop,
    Trace,
)

OK = "ok"  # a copy that (or one of whose copies) reached a destination
FAIL = "fail"


@dataclass(frozen=True, slots=True)
class PathEdge:
    """The packet went from node ``a`` to node ``b``; ``wire`` is the structural edge it used
    (``""`` for a way through one element), ``label`` what changed on the way."""

    a: str
    b: str
    tone: str
    wire: str = ""
    label: str = ""


@dataclass(frozen=True, slots=True)
class Fate:
    """How copies ended, anchored at ``node``: here (``here``) or beyond the host."""

    node: str
    tone: str
    dispositions: tuple[Disposition, ...]
    here: bool


@dataclass(frozen=True)
class Marks:
    """One trace drawn on one host."""

    name: str
    start: str | None  # the node the walk starts at, if it starts on this host
    start_text: str
    edges: tuple[PathEdge, ...]
    nodes: dict[str, str]  # node -> tone
    fates: tuple[Fate, ...]


def split_end(port: str) -> tuple[str, str]:
    """A ``host:port`` end of an underlay or segment hop."""
    host, sep, name = port.partition(":")
    return (host, name) if sep else ("", port)


def _tunnel_port(d: HostDiagram, name: str) -> str | None:
    return next((n for (_br, p), n in d.ports.items() if p == name), None)


def hop_nodes(d: HostDiagram, hop: Hop) -> list[str]:
    """The nodes of ``d`` a hop passes, in order (empty when it is elsewhere)."""
    out: list[str | None] = []
    if hop.kind in (HOP_OVS, HOP_LINUX_BRIDGE, HOP_NAMESPACE, HOP_VM):
        if hop.host != d.host:
            return []
        for port in (hop.in_port, hop.out_port):
            if not port:
                continue
            if hop.kind == HOP_OVS:
                out.append(d.port_node(hop.element, port))
            else:
                ns = "" if hop.kind == HOP_LINUX_BRIDGE else hop.element
                out.append(d.iface_node(ns, port))
    elif hop.kind == HOP_UNDERLAY:
        (src, sport), (dst, dport) = split_end(hop.in_port), split_end(hop.out_port or "")
        if src == d.host:
            out = [_tunnel_port(d, sport), d.remotes.get(dst)]
        elif dst == d.host:
            out = [d.remotes.get(src), _tunnel_port(d, dport)]
    elif hop.kind == HOP_SEGMENT:
        seg = d.segments.get(hop.element)
        (ih, iport), (oh, oport) = split_end(hop.in_port), split_end(hop.out_port or "")
        ours_in = ih == d.host and bool(ih)
        ours_out = oh == d.host and bool(oh)
        if seg is not None and (ours_in or ours_out):
            out = ([d.iface_node("", iport)] if ours_in else []) + [seg] + (
                [d.iface_node("", oport)] if ours_out else [])
    nodes = [n for n in out if n is not None]
    return [n for i, n in enumerate(nodes) if i == 0 or nodes[i - 1] != n]


def change_parts(before: Packet, after: Packet) -> list[tuple[str, str]]:
    """What an operator wants to see change on a wire, as ``(kind, text)``: ``encap``/``decap``
    (VXLAN, with the outer header), ``vlan`` (tag pushed, changed or stripped), ``tunnel``
    (tun_id), ``nat`` (addresses and ports)."""
    if after.payload is not None and after.tun_id and (before.payload is None
                                                       or not before.tun_id):
        name = {"geneve": "Geneve VNI", "gre": "GRE key"}.get(after.encapsulation or "",
                                                               "VXLAN VNI")
        return [("encap", f"{name} {after.tun_id:#x}: {after.nw_src} → {after.nw_dst}")]
    if before.payload is not None and before.tun_id and (after.payload is None
                                                         or not after.tun_id):
        return [("decap", f"decapsulated (VNI {before.tun_id:#x})")]
    out = []
    if before.vlan_vid != after.vlan_vid:
        out.append(("vlan", f"VLAN {after.vlan_vid}" if after.vlan_vid is not None
                    else f"VLAN {before.vlan_vid} stripped"))
    if before.tun_id != after.tun_id and after.tun_id and after.payload is None:
        out.append(("tunnel", f"tun_id {after.tun_id:#x}"))
    if before.nw_src != after.nw_src and before.nw_src and after.nw_src:
        out.append(("nat", f"SNAT {before.nw_src} → {after.nw_src}"))
    if before.nw_dst != after.nw_dst and before.nw_dst and after.nw_dst:
        out.append(("nat", f"DNAT {before.nw_dst} → {after.nw_dst}"))
    if before.nw_proto in (6, 17) and before.nw_proto == after.nw_proto:
        if before.tp_src != after.tp_src:
            out.append(("nat", f"sport {before.tp_src} → {after.tp_src}"))
        if before.tp_dst != after.tp_dst:
            out.append(("nat", f"dport {before.tp_dst} → {after.tp_dst}"))
    return out


def changes(before: Packet, after: Packet) -> str:
    """`change_parts` as one label."""
    return "; ".join(text for _, text in change_parts(before, after))


def _tone(branch: Branch) -> str:
    return OK if any(d.success for _, d in branch.paths()) else FAIL


class _Drawer:
    """Walks a trace's branch tree, collecting the marks on one diagram."""

    def __init__(self, d: HostDiagram) -> None:
        """Empty marks on ``d``."""
        self.d = d
        self.edges: list[PathEdge] = []
        self.seen: set[tuple[str, str, str, str]] = set()
        self.nodes: dict[str, str] = {}
        self.fates: dict[tuple[str, bool], list[Disposition]] = {}
        self.fate_tone: dict[tuple[str, bool], str] = {}

    def mark(self, node: str, tone: str) -> None:
        """``node`` was passed by a copy of this tone (OK wins)."""
        if self.nodes.get(node) != OK:
            self.nodes[node] = tone

    def edge(self, a: str, b: str, tone: str, parts: list[tuple[str, str]]) -> bool:
        """The packet went a → b: along a wire if one joins them (or joins b to a's element,
        after a way through it), else through an element. ``parts`` label the wire (a VLAN
        tag change only where it is not implied: not on an access port's tap, veth or internal
        wire); returns whether the wire took them."""
        d = self.d
        wire = next((e for e in d.edges_at(b) if a in (e.a, e.b)), None)
        if wire is None and d.cluster_of(a):
            wire = next((e for e in d.edges_at(b)
                         if d.cluster_of(e.a if e.b == b else e.b) == d.cluster_of(a)), None)
            if wire is not None:
                via = wire.a if wire.b == b else wire.b
                self.add(a, via, tone, "", "")
                self.mark(via, tone)
                a = via
        label = ""
        if wire is not None:
            access = wire.kind in (E_TAP, E_VETH, E_INTERNAL)
            label = "; ".join(t for k, t in parts if not (access and k == "vlan"))
        self.add(a, b, tone, wire.id if wire is not None else "", label)
        return wire is not None

    def add(self, a: str, b: str, tone: str, wire: str, label: str) -> None:
        """Record one path edge once per direction, tone and wire."""
        if a == b:
            return
        key = (a, b, tone, wire)
        if key in self.seen:
            return
        self.seen.add(key)
        self.edges.append(PathEdge(a, b, tone, wire, label))

    def branch(self, br: Branch, last: str | None, away: bool,
               last_packet: Packet | None) -> None:
        """Draw ``br`` on from ``last``, the previous node on this host (``away``: the packet
        has left the host since)."""
        tone = _tone(br)
        for hop in br.hops:
            nodes = hop_nodes(self.d, hop)
            pending = change_parts(last_packet, hop.packet) if last_packet is not None else []
            last_packet = hop.packet
            if not nodes:
                away = away or last is not None
                continue
            for node in nodes:
                self.mark(node, tone)
                if last is not None and not away and self.edge(last, node, tone, pending):
                    pending = []
                last, away = node, False
        if br.disposition is not None and last is not None:
            key = (last, br.disposition.host == self.d.host and not away)
            self.fates.setdefault(key, []).append(br.disposition)
            if self.fate_tone.get(key) != OK:
                self.fate_tone[key] = OK if br.disposition.success else FAIL
        for child in br.children:
            self.branch(child, last, away, last_packet)


def draw(d: HostDiagram, name: str, trace: Trace) -> Marks:
    """The marks of ``trace`` on ``d`` (see the module docstring)."""
    dr = _Drawer(d)
    first = next((n for h in trace.root.hops[:1] for n in hop_nodes(d, h)), None)
    dr.branch(trace.root, None, False, None)
    fates = tuple(Fate(node, dr.fate_tone[(node, here)], tuple(ds), here)
                  for (node, here), ds in dr.fates.items())
    return Marks(name, first, f"{trace.start}: {packet_summary(trace.packet)}", tuple(dr.edges),
                 dr.nodes, fates)
