"""Bridge diagrams (layer 3): each host's devices and wires as the seed draws them (网桥结构图),
with the walks of traces drawn on them, as Graphviz DOT, SVG or PNG.

`structure` reads a host's diagram from the data-plane state, `path` places a trace on it, `dot`
writes DOT and has Graphviz lay it out. docs/diagram.md describes what is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping

from neutrace.dataplane import CloudState
from neutrace.render.diagram.dot import render, to_dot
from neutrace.render.diagram.path import Marks, draw
from neutrace.render.diagram.structure import HostDiagram, host_diagram
from neutrace.trace import Trace

__all__ = ["HostDiagram", "Marks", "diagram", "diagram_dot", "draw", "host_diagram", "render",
           "to_dot"]


def diagram_dot(cloud: CloudState, host: str,
                traces: Mapping[str, Trace | None] | None = None) -> str:
    """The DOT source of ``host``'s diagram with ``traces`` (``{"request": t, …}``) drawn."""
    d = host_diagram(cloud, host)
    marks = tuple(draw(d, name, t) for name, t in (traces or {}).items() if t is not None)
    return to_dot(d, marks)


def diagram(cloud: CloudState, host: str, traces: Mapping[str, Trace | None] | None = None,
            fmt: str = "svg") -> bytes:
    """``host``'s diagram with ``traces`` drawn, laid out by Graphviz as ``svg`` or ``png``."""
    return render(diagram_dot(cloud, host, traces), fmt)
