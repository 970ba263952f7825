"""What the web page asks for, as JSON-able data (layer 6): the cloud overview, one host's
diagram and tables, and a walk.

No domain logic: the walk comes from ``neutrace.app.session``, its JSON from
``neutrace.render.trace_json`` (the same document ``neutrace trace --format json`` prints), the
diagrams from ``neutrace.render.diagram``, the flow lines from ``neutrace.render.show``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neutrace.app import session
from neutrace.dataplane import NS_EXTERNAL, NS_VM, CloudState
from neutrace.errors import CommandLineError
from neutrace.render.diagram import diagram_dot, render
from neutrace.render.diagram.cloud import cloud_dot
from neutrace.render.show import flows_in_order
from neutrace.render.trace_json import traces_to_json
from neutrace.sim.walk import Walker
from neutrace.syntax.ofctl import format_flow
from neutrace.trace import Trace

PROTOS = ("icmp", "tcp", "udp")


@dataclass(frozen=True)
class TraceRequest:
    """The trace form: where from, where to, protocol and port, cold or warm, with the reply."""

    source: str
    destination: str
    proto: str = "icmp"
    dport: int = 0
    warm: bool = False
    reply: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> TraceRequest:
        """Read the form's fields (``from``, ``to``, ``proto``, ``dport``, ``warm``,
        ``reply``) from a parsed query string; bad values are `CommandLineError`s."""
        def one(key: str, default: str = "") -> str:
            return (query.get(key) or [default])[0].strip()

        source, destination, proto = one("from"), one("to"), one("proto", "icmp") or "icmp"
        if not source:
            raise CommandLineError("from", "", "a walk needs a start", "fill in From")
        if not destination:
            raise CommandLineError("to", "", "a walk needs a destination", "fill in To")
        if proto not in PROTOS:
            raise CommandLineError("proto", proto, "not a protocol neutrace walks",
                                   "use icmp, tcp or udp")
        text = one("dport", "0") or "0"
        if not text.isdigit() or int(text) > 65535:
            raise CommandLineError("dport", text, "not a port number", "use 0-65535")
        flag = {"1", "true", "on", "yes"}
        return cls(source, destination, proto, int(text), one("warm").lower() in flag,
                   one("reply").lower() in flag)


class Api:
    """The page's data for one cloud; walks are serialized (a `Walker` runs one at a time)."""

    def __init__(self, walker: Walker, name: str = "") -> None:
        """Serve ``walker``'s cloud, called ``name`` on the page."""
        self.walker = walker
        self.cloud: CloudState = walker.cloud
        self.name = name or dict(self.cloud.metadata).get("cloud", "cloud")
        self._lock = threading.Lock()
        self._svg: dict[str, bytes] = {}

    def summary(self) -> dict[str, Any]:
        """The cloud: hosts, segments, what a walk can start from."""
        c = self.cloud
        return {
            "name": self.name,
            "hosts": [{"name": h.name, "management_ip": h.management_ip,
                       "tunnel_ip": h.tunnel_ip,
                       "bridges": [b.name for b in h.ovs_bridges],
                       "namespaces": [{"name": ns.name, "kind": ns.kind}
                                      for ns in h.namespaces if ns.name]}
                      for h in c.hosts],
            "segments": [{"name": s.name, "description": s.description} for s in c.segments],
            "starts": sorted({ns.name for h in c.hosts for ns in h.namespaces
                              if ns.kind == NS_VM}) + [ns.name for ns in c.external
                                                       if ns.kind == NS_EXTERNAL],
            "addresses": sorted({a.split("/")[0] for h in c.hosts for ns in h.namespaces
                                 if ns.kind == NS_VM for i in ns.interfaces
                                 for a in i.addresses if not a.startswith("127.")}
                                | {a.split("/")[0] for ns in c.external for i in ns.interfaces
                                   for a in i.addresses}),
        }

    def overview_svg(self, traces: Mapping[str, Trace | None] | None = None) -> str:
        """The cloud overview, with the walks of ``traces`` marked."""
        return render(cloud_dot(self.cloud, traces), "svg").decode()

    def host_svg(self, host: str, traces: Mapping[str, Trace | None] | None = None) -> str:
        """One host's diagram (cached when no walk is drawn on it)."""
        if traces:
            return render(diagram_dot(self.cloud, host, traces), "svg").decode()
        if host not in self._svg:
            self._svg[host] = render(diagram_dot(self.cloud, host), "svg")
        return self._svg[host].decode()

    def host(self, name: str) -> dict[str, Any]:
        """One host: its diagram, its bridges' ports and flows (as ``ovs-ofctl -O OpenFlow13
        dump-flows`` prints them), and the iptables-save text of each namespace, line by line
        with the table each line belongs to."""
        hs = self.cloud.host(name)
        if hs is None:
            raise CommandLineError("host", name, "no such host",
                                   "use one of " + ", ".join(h.name for h in self.cloud.hosts))
        bridges = []
        for br in hs.ovs_bridges:
            ports = [{"ofport": p.ofport, "name": p.name, "type": p.type or "system",
                      "tag": p.tag, "peer": p.peer, "remote_ip": p.option("remote_ip")}
                     for p in sorted(br.ports, key=lambda p: p.ofport)]
            flows = [{"table": f.table, "text": format_flow(f)} for f in flows_in_order(br)]
            bridges.append({"name": br.name, "ports": ports, "flows": flows})
        namespaces = []
        for ns in hs.namespaces:
            if not ns.iptables:
                continue
            lines, table = [], ""
            for number, line in enumerate(ns.iptables.splitlines(), 1):
                if line.startswith("*"):
                    table = line[1:].strip()
                lines.append({"line": number, "table": table, "text": line})
            namespaces.append({"name": ns.name or "<root>", "kind": ns.kind,
                               "iptables": lines})
        return {"name": hs.name, "svg": self.host_svg(name), "bridges": bridges,
                "namespaces": namespaces}

    def trace(self, req: TraceRequest) -> dict[str, Any]:
        """Walk ``req``: the trace JSON (as ``neutrace trace --format json``), and the diagrams
        of the hosts it crossed with the walk drawn on them."""
        with self._lock:
            conv = session.trace(self.walker, req.source, req.destination, req.proto,
                                 req.dport, req.warm, req.reply)
        named: dict[str, Trace | None] = {"request": conv.request}
        if req.reply:
            named["reply"] = conv.reply
        crossed = sorted({hop.host for t in named.values() if t is not None
                          for hops, _ in t.paths() for hop in hops if hop.host})
        return {
            "traces": json.loads(traces_to_json(named)),
            "diagrams": {h: self.host_svg(h, named) for h in crossed},
            "overview": self.overview_svg(named),
        }
