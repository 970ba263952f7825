"""A host diagram (and the walks drawn on it) as Graphviz DOT, and DOT as SVG or PNG (layer 3).

Layout: top to bottom as the seed draws it — VMs and namespaces, Linux bridges, br-int, the other
OVS bridges, and what lies beyond the host — with a cluster per bridge or namespace whose ports sit
on one row. Every name that comes from the state is escaped into an HTML-like label; node, edge and
cluster ids are generated, and SVG classes (``on-path``, ``ok``/``fail``, the node kind) let a page
style or find them.
"""

from __future__ import annotations

import html
import textwrap
from collections import Counter

import graphviz  # type: ignore[import-untyped]

from neutrace.errors import BackendError
from neutrace.render.diagram.path import FAIL, OK, Fate, Marks
from neutrace.render.diagram.structure import (
    C_DHCP,
    C_LINUX_BRIDGE,
    C_NAMESPACE,
    C_OUTSIDE,
    C_OVS,
    C_ROOT,
    C_ROUTER,
    C_VM,
    E_TUNNEL,
    N_LOCAL,
    N_REMOTE,
    N_SEGMENT,
    HostDiagram,
    Node,
)
from neutrace.render.fates import fate_reason

FONT = "DejaVu Sans"
CLUSTER_STYLE = {  # kind: (fill, border)
    C_VM: ("#ecfdf5", "#059669"),
    C_LINUX_BRIDGE: ("#fffbeb", "#d97706"),
    C_OVS: ("#eff6ff", "#2563eb"),
    C_ROUTER: ("#f5f3ff", "#7c3aed"),
    C_DHCP: ("#f8fafc", "#64748b"),
    C_NAMESPACE: ("#f8fafc", "#64748b"),
    C_ROOT: ("#f8fafc", "#94a3b8"),
    C_OUTSIDE: ("#ffffff", "#94a3b8"),
}
PALETTE = (  # per trace: (ok, fail) stroke, (ok, fail) fill
    (("#15803d", "#dc2626"), ("#dcfce7", "#fee2e2")),
    (("#1d4ed8", "#c2410c"), ("#dbeafe", "#ffedd5")),
)
WRAP = 58


def esc(text: str) -> str:
    """``text`` safe inside an HTML-like label (and so in the SVG made from it)."""
    return html.escape(text, quote=True)


def _label(title: str, lines: tuple[str, ...], size: int = 10, title_size: int = 11) -> str:
    body = f'<font point-size="{title_size}"><b>{esc(title)}</b></font>'
    for line in lines:
        body += f'<br/><font point-size="{size - 1}" color="#475569">{esc(line)}</font>'
    return f"<{body}>"


def _wrap(text: str, lines: int = 3) -> list[str]:
    out = textwrap.wrap(text, WRAP) or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: WRAP - 1] + "…"
    return out


def _kind(kind: str) -> str:
    return kind.upper().replace("_", " ")


def fate_lines(fate: Fate) -> tuple[str, list[str]]:
    """A fate note's heading and lines. Here: each disposition with its reason. Beyond the
    host: the copies that reached a destination with their reasons, the others counted (each
    is drawn on the diagram of the host where it died)."""
    ds = sorted(fate.dispositions, key=lambda d: not d.success)
    if fate.here and len(ds) == 1:
        return _kind(ds[0].kind), _wrap(fate_reason(ds[0]), 4)
    ok = [d for d in ds if d.success]
    if fate.here:
        head = f"{len(ds)} copies ended here"
        shown = ds[:3]
    else:
        head = (f"{len(ds)} cop{'y' if len(ds) == 1 else 'ies'} beyond this host, "
                f"{len(ok)} reached a destination")
        shown = ok[:2] if ok else ds[:2]
    lines: list[str] = []
    for d in shown:
        where = "" if fate.here else f" on {d.host or d.element}"
        lines += _wrap(f"{_kind(d.kind)}{where}: {fate_reason(d)}", 3)
    rest = Counter(d.kind.replace("_", " ") + ("" if fate.here else f" on {d.host or 'outside'}")
                   for d in ds if d not in shown)
    if rest:
        lines.append("+ " + ", ".join(f"{n} {k}" for k, n in sorted(rest.items())))
    return head, lines


def _node_attrs(n: Node, marks: list[tuple[int, Marks]]) -> dict[str, str]:
    classes = ["device", n.kind]
    attrs: dict[str, str] = {"id": n.id}
    if n.kind == N_LOCAL:
        attrs.update(fontcolor="#64748b", color="#cbd5e1", style="rounded,filled,dashed")
    elif n.kind in (N_SEGMENT, N_REMOTE):
        attrs.update(shape="box", style="rounded,filled", fillcolor="#f1f5f9")
    for i, m in marks:
        tone = m.nodes.get(n.id)
        if tone is None:
            continue
        stroke, fill = PALETTE[i % len(PALETTE)]
        k = 0 if tone == OK else 1
        if "on-path" not in classes:
            classes += ["on-path", tone]
            attrs.update(color=stroke[k], fillcolor=fill[k], penwidth="2.2")
    attrs["class"] = " ".join(classes)
    return attrs


def to_dot(d: HostDiagram, marks: tuple[Marks, ...] = ()) -> str:
    """The DOT source of ``d`` with ``marks`` drawn on it (stable: a golden can hold it)."""
    legend = ""
    for i, m in enumerate(marks):
        (ok, fail), _ = PALETTE[i % len(PALETTE)]
        legend += (f'<br/><font point-size="11"><b>{esc(m.name)}</b>: {esc(m.start_text)}   '
                   f'<font color="{ok}">━━ reached a destination</font>   '
                   f'<font color="{fail}">╍╍ died</font></font>')
    g = graphviz.Digraph(
        "neutrace",
        graph_attr={"rankdir": "TB", "fontname": FONT, "bgcolor": "white", "newrank": "true",
                    "nodesep": "0.3", "ranksep": "0.6", "labelloc": "t", "fontsize": "16",
                    "label": f"<<b>{esc(d.title)}</b>{legend}>", "pad": "0.3",
                    "id": "diagram"},
        node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                   "fontname": FONT, "fontsize": "10", "color": "#64748b",
                   "margin": "0.12,0.05", "penwidth": "1.2"},
        edge_attr={"color": "#94a3b8", "arrowhead": "none", "fontname": FONT,
                   "fontsize": "9", "penwidth": "1.2"},
    )
    indexed = list(enumerate(marks))
    for c in sorted(d.clusters, key=lambda c: (c.rank, c.id)):
        members = [n for n in d.nodes if n.cluster == c.id]
        if not members:
            continue
        fill, border = CLUSTER_STYLE.get(c.kind, ("#ffffff", "#94a3b8"))
        with g.subgraph(name=f"cluster_{c.id}") as s:
            s.attr(label=_label(c.title, (c.subtitle,) if c.subtitle else (), 10, 12),
                   style="rounded,filled" if c.kind != C_OUTSIDE else "rounded,dashed",
                   fillcolor=fill, color=border, penwidth="1.5", fontname=FONT,
                   id=c.id, **{"class": f"element {c.kind}"})
            for n in members:
                s.node(n.id, _label(n.name, n.lines), **_node_attrs(n, indexed))
            with s.subgraph() as row:  # a bridge's ports (a namespace's interfaces) on one row
                row.attr(rank="same")
                for n in members:
                    row.node(n.id)
    for e in d.edges:
        attrs = {"id": e.id, "class": f"wire {e.kind}"}
        if e.kind == E_TUNNEL:
            attrs["style"] = "dashed"
        g.edge(e.a, e.b, **attrs)
    for i, m in indexed:
        _draw_marks(g, d, i, m)
    return str(g.source)


def _draw_marks(g: graphviz.Digraph, d: HostDiagram, i: int, m: Marks) -> None:
    stroke, fill = PALETTE[i % len(PALETTE)]
    prefix = f"t{i + 1}"
    if m.start is not None:
        g.node(f"{prefix}start", _label(m.name, (m.start_text,)), shape="note",
               fillcolor=fill[0], color=stroke[0], id=f"{prefix}start",
               **{"class": "start"})
        g.edge(f"{prefix}start", m.start, color=stroke[0], penwidth="2.4",
               arrowhead="normal", **{"class": "path ok"})
    for j, pe in enumerate(m.edges, 1):
        k = 0 if pe.tone == OK else 1
        attrs = {"color": stroke[k], "penwidth": "2.6" if pe.tone == OK else "1.8",
                 "arrowhead": "normal", "arrowsize": "0.7", "constraint": "false",
                 "id": f"{prefix}p{j}", "class": f"path {pe.tone}"}
        if pe.tone == FAIL:
            attrs["style"] = "dashed"
        if pe.label:
            attrs.update(label=f"<<b>{esc(pe.label)}</b>>", fontcolor=stroke[k])
        g.edge(pe.a, pe.b, **attrs)
    for j, fate in enumerate(m.fates, 1):
        k = 0 if fate.tone == OK else 1
        head, lines = fate_lines(fate)
        fid = f"{prefix}f{j}"
        g.node(fid, _label(("✔ " if fate.tone == OK else "✘ ") + head, tuple(lines), 9, 10),
               shape="note", fillcolor=fill[k], color=stroke[k], id=fid,
               **{"class": f"fate {fate.tone}"})
        g.edge(fate.node, fid, color=stroke[k], style="dotted", arrowhead="none",
               **{"class": f"fate {fate.tone}"})


def render(dot: str, fmt: str) -> bytes:
    """Lay out ``dot`` with Graphviz's ``dot`` and return it as ``svg`` or ``png``."""
    if fmt not in ("svg", "png"):
        raise ValueError(fmt)
    try:
        return bytes(graphviz.Source(dot).pipe(format=fmt, engine="dot", quiet=True))
    except graphviz.ExecutableNotFound:
        raise BackendError("Graphviz's dot program is not installed (fix: apt-get install "
                           "graphviz)") from None
    except graphviz.CalledProcessError as exc:
        raise BackendError(f"Graphviz's dot failed: {exc.stderr!r}") from None
