"""The whole cloud at a glance (layer 3): its hosts, the tunnel mesh between them and the physical
segments their NICs plug into (with the outside hosts on them), as Graphviz DOT; the hosts,
tunnels and segments a walk crossed are marked.

Read from `CloudState` only. Names are escaped as in `neutrace.render.diagram.dot`.
"""

from __future__ import annotations

from collections.abc import Mapping

import graphviz  # type: ignore[import-untyped]

from neutrace.dataplane import NS_DHCP, NS_ROUTER, CloudState
from neutrace.render.diagram.dot import FONT, PALETTE, esc
from neutrace.render.diagram.path import split_end
from neutrace.trace import HOP_SEGMENT, HOP_UNDERLAY, Trace


def _label(title: str, lines: list[str]) -> str:
    body = f'<font point-size="12"><b>{esc(title)}</b></font>'
    for line in lines:
        body += f'<br/><font point-size="9" color="#475569">{esc(line)}</font>'
    return f"<{body}>"


def _crossed(traces: Mapping[str, Trace | None]) -> tuple[set[str], set[frozenset[str]],
                                                          set[str]]:
    """The hosts, tunnel pairs (host names) and segments the walks crossed."""
    hosts: set[str] = set()
    tunnels: set[frozenset[str]] = set()
    segments: set[str] = set()
    for t in traces.values():
        if t is None:
            continue
        for hops, _ in t.paths():
            for hop in hops:
                if hop.host:
                    hosts.add(hop.host)
                if hop.kind == HOP_UNDERLAY:
                    tunnels.add(frozenset((split_end(hop.in_port)[0],
                                           split_end(hop.out_port or "")[0])))
                if hop.kind == HOP_SEGMENT:
                    segments.add(hop.element)
    return hosts, tunnels, segments


def cloud_dot(cloud: CloudState, traces: Mapping[str, Trace | None] | None = None) -> str:
    """The DOT source of the cloud overview, with the walks of ``traces`` marked."""
    hosts_on, tunnels_on, segs_on = _crossed(traces or {})
    (ok, _), (ok_fill, _) = PALETTE[0]
    g = graphviz.Digraph(
        "cloud",
        graph_attr={"rankdir": "TB", "fontname": FONT, "bgcolor": "white", "pad": "0.2",
                    "nodesep": "0.5", "ranksep": "0.8", "id": "overview"},
        node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#eff6ff",
                   "color": "#2563eb", "fontname": FONT, "fontsize": "10", "penwidth": "1.4"},
        edge_attr={"arrowhead": "none", "color": "#94a3b8", "fontname": FONT,
                   "fontsize": "9", "penwidth": "1.3"},
    )
    ids = {h.name: f"h{i}" for i, h in enumerate(cloud.hosts, 1)}
    for h in cloud.hosts:
        lines = [x for x in (f"management {h.management_ip}" if h.management_ip else "",
                             f"tunnel {h.tunnel_ip}" if h.tunnel_ip else "") if x]
        vms = [ns.name for ns in h.vms()]
        if vms:
            lines.append("VMs: " + ", ".join(vms))
        routers = sum(1 for ns in h.namespaces if ns.kind == NS_ROUTER)
        dhcp = sum(1 for ns in h.namespaces if ns.kind == NS_DHCP)
        agents = [f"{routers} router{'s' * (routers != 1)}" if routers else "",
                  f"{dhcp} DHCP" if dhcp else ""]
        if any(agents):
            lines.append(" · ".join(a for a in agents if a))
        lines.append(" ".join(b.name for b in h.ovs_bridges))
        attrs = {"id": ids[h.name], "class": "host"}
        if h.name in hosts_on:
            attrs.update(color=ok, fillcolor=ok_fill, penwidth="2.4",
                         **{"class": "host on-path"})
        g.node(ids[h.name], _label(h.name, lines), **attrs)
    pairs: set[frozenset[str]] = set()
    for h in cloud.hosts:
        for br in h.ovs_bridges:
            for port in br.ports:
                remote = port.option("remote_ip") if port.is_tunnel else None
                peer = cloud.host_by_tunnel_ip(remote) if remote else None
                if peer is None or frozenset((h.name, peer.name)) in pairs:
                    continue
                pair = frozenset((h.name, peer.name))
                pairs.add(pair)
                attrs = {"style": "dashed", "class": f"tunnel {port.type}",
                         "label": f"<{esc(port.type)}>", "fontcolor": "#64748b"}
                if pair in tunnels_on:
                    attrs.update(color=ok, penwidth="2.6", style="solid",
                                 **{"class": f"tunnel {port.type} on-path"})
                g.edge(ids[h.name], ids[peer.name], **attrs)
    for i, seg in enumerate(cloud.segments, 1):
        sid = f"s{i}"
        on = [f"{ns.name} {', '.join(itf.addresses)}".strip() for ns in cloud.external
              for itf in ns.interfaces if itf.segment == seg.name]
        lines = ([seg.description] if seg.description else ["physical segment"]) + on
        attrs = {"id": sid, "class": "segment", "shape": "box", "fillcolor": "#f8fafc",
                 "color": "#64748b"}
        if seg.name in segs_on:
            attrs.update(color=ok, fillcolor=ok_fill, penwidth="2.4",
                         **{"class": "segment on-path"})
        g.node(sid, _label(seg.name, lines), **attrs)
        for h in cloud.hosts:
            for itf in h.root.interfaces:
                if itf.segment == seg.name:
                    g.edge(ids[h.name], sid, label=f"<{esc(itf.name)}>", fontcolor="#64748b",
                           **{"class": "nic"})
    return str(g.source)
