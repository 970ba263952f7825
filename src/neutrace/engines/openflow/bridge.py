"""A bridge as the engine holds it (layer 3): ports by name and OpenFlow number, the implicit
LOCAL port, its groups, and its flow tables, each compiled on its first lookup (``ofproto-dpif.c``'s
``struct ofproto_dpif`` as far as a trace needs it).
"""

from __future__ import annotations

import gc

from neutrace.dataplane import Flow, OvsBridge, OvsGroup, OvsMirror, OvsPort
from neutrace.engines.openflow.classifier import Table, clear_compile_caches, strip_quotes
from neutrace.engines.openflow.values import OFPP_LOCAL
from neutrace.errors import SyntaxParseError
from neutrace.syntax import offields as F

NO_PORT = "NONE"  # the in_port of a packet from no port (OFPP_NONE)


class Bridge:
    """One bridge: ports by name/ofport and its tables, compiled on first use."""

    __slots__ = ("spec", "name", "by_name", "by_ofport", "flows_by_table", "tables", "ports",
                 "groups", "mirrors")

    def __init__(self, spec: OvsBridge) -> None:
        """Index ``spec``'s ports and group its flows by table (checking their in_port names)."""
        self.spec = spec
        self.name = spec.name
        self.by_name: dict[str, OvsPort] = {p.name: p for p in spec.ports}
        self.by_ofport: dict[int, OvsPort] = {p.ofport: p for p in spec.ports}
        if spec.name not in self.by_name:
            local = OvsPort(spec.name, OFPP_LOCAL, "internal")
            self.by_name[spec.name] = local
            self.by_ofport.setdefault(OFPP_LOCAL, local)
        # every port, the implicit LOCAL one included, in ofport order (flooding visits them so)
        self.ports: tuple[OvsPort, ...] = tuple(sorted(self.by_name.values(),
                                                       key=lambda p: p.ofport))
        self.flows_by_table: dict[int, list[Flow]] = {}
        known = self.by_name
        for f in spec.flows:
            self.flows_by_table.setdefault(f.table, []).append(f)
            for k, val in f.match:
                if k == "in_port" and not val.isdigit() and strip_quotes(val) not in known \
                        and val.lower() not in F.RESERVED_PORTS:
                    raise SyntaxParseError(
                        spec.name, f"table={f.table}, priority={f.priority}",
                        f"in_port={val}: bridge {spec.name} has no port {strip_quotes(val)!r}",
                        "use one of its ports: " + ", ".join(sorted(known)))
        self.tables: dict[int, Table] = {}
        self.groups: dict[int, OvsGroup] = {g.group_id: g for g in spec.groups}
        self.mirrors = Mirrors(spec.mirrors, self.ports) if spec.mirrors else None

    def ofport(self, name: str) -> int | None:
        """The OpenFlow port number of port ``name`` (None: no such port; `NO_PORT`, a packet
        from no port, is OFPP_NONE as ofproto/trace has it without an in_port)."""
        p = self.by_name.get(name)
        if p is None:
            return F.OFPP_NONE if name == NO_PORT else None
        return p.ofport

    def port_name(self, ofport: int) -> str:
        """The name of port ``ofport`` (the number itself when there is none)."""
        p = self.by_ofport.get(ofport)
        if p is not None:
            return p.name
        if ofport == OFPP_LOCAL:
            return self.name
        return str(ofport)

    def table(self, table_id: int) -> Table | None:
        """Table ``table_id``, compiled on its first use (None: it has no flow)."""
        t = self.tables.get(table_id)
        if t is None:
            flows = self.flows_by_table.get(table_id)
            if not flows:
                return None
            gc_was_on = gc.isenabled()
            gc.disable()  # compiling makes no cycles; the collector's passes cost ~30% here
            try:
                t = self.tables[table_id] = Table(flows, self.ofport, self.name)
            finally:
                if gc_was_on:
                    gc.enable()
                clear_compile_caches()
        return t


class Mirrors:
    """A bridge's mirrors as bit masks: per port, the mirrors it is a source of, a destination
    of, and the output of; per mirror, the mirrors with the same output (``dup_mirrors``)."""

    __slots__ = ("mirrors", "src", "dst", "out", "dups", "vlans")

    def __init__(self, mirrors: tuple[OvsMirror, ...], ports: tuple[OvsPort, ...]) -> None:
        """The masks of ``mirrors`` over the bridge's ``ports``."""
        self.mirrors = mirrors
        self.src: dict[str, int] = {}
        self.dst: dict[str, int] = {}
        self.out: dict[str, int] = {}
        self.vlans = tuple(frozenset(m.select_vlan) for m in mirrors)
        names = [p.name for p in ports]
        for i, m in enumerate(mirrors):
            bit = 1 << i
            for name in (names if m.select_all else m.select_src_port):
                self.src[name] = self.src.get(name, 0) | bit
            for name in (names if m.select_all else m.select_dst_port):
                self.dst[name] = self.dst.get(name, 0) | bit
            if m.output_port is not None:
                self.out[m.output_port] = self.out.get(m.output_port, 0) | bit
        self.dups = tuple(
            sum(1 << j for j, o in enumerate(mirrors)
                if (o.output_port, o.output_vlan if o.output_port is None else None)
                == (m.output_port, m.output_vlan if m.output_port is None else None))
            for m in mirrors)

    def is_output(self, port: str) -> bool:
        """True if ``port`` is a mirror's output (``xbundle_mirror_out``)."""
        return bool(self.out.get(port))
