"""The OpenFlow engine's entry point (layer 3): one host's bridges, a packet in, a
`BridgeVisit` tree out.

`OpenFlowEngine(bridges, host)` holds the host's bridges (`Bridge`: ports, tables compiled on
first use), which bridge owns each port (for patch ports) and the caches: a trace that changed
nothing in the `OpenFlowState` is answered from the cache (the same packet on the same state
gets the same `BridgeVisit` back), and table-lookup steps are shared.
"""

from __future__ import annotations

from collections.abc import Sequence

from neutrace.dataplane import Flow, OvsBridge
from neutrace.engines.openflow import xlate
from neutrace.engines.openflow.bridge import Bridge
from neutrace.engines.openflow.state import OpenFlowState
from neutrace.engines.results import BridgeVisit
from neutrace.errors import SimulationError
from neutrace.packet import Packet
from neutrace.trace import Step


class OpenFlowEngine:
    """The OpenFlow pipelines of one host's OVS bridges (see the package docstring)."""

    def __init__(self, bridges: Sequence[OvsBridge], host: str = "") -> None:
        """Index ``bridges`` (their flows are compiled lazily, table by table)."""
        self.host = host
        self._bridges: dict[str, Bridge] = {b.name: Bridge(b) for b in bridges}
        self._cache: dict[tuple[object, ...], BridgeVisit] = {}
        # (id(flow), table, depth) -> (flow, the step of a lookup that matched it)
        self._table_steps: dict[tuple[int, int, int], tuple[Flow | None, Step]] = {}
        # port name -> bridge that owns it (patch ports find their peer's bridge so)
        self._port_owner: dict[str, str] = {}
        for b in bridges:
            for p in b.ports:
                self._port_owner[p.name] = b.name

    @property
    def bridges(self) -> tuple[str, ...]:
        """The bridges' names."""
        return tuple(self._bridges)

    def compile_all(self) -> None:
        """Compile every table now (otherwise each is compiled on its first lookup)."""
        for b in self._bridges.values():
            for t in b.flows_by_table:
                b.table(t)

    def bridge_of_port(self, port: str) -> Bridge | None:
        """The bridge that has a port called ``port`` (a patch port's peer), if any."""
        br = self._bridges.get(self._port_owner.get(port) or "")
        if br is None or br.by_name.get(port) is None:
            return None
        return br

    def table_step(self, table: int, flow: Flow | None, depth: int) -> Step:
        """The (shared) step of a lookup in ``table`` that matched ``flow`` (or missed)."""
        return xlate.table_step(self._table_steps, table, flow, depth)

    def run(self, bridge: str, in_port: str, packet: Packet, state: OpenFlowState,
            ct_next: tuple[int, ...] | None = None, generate: bool = True,
            metadata: tuple[tuple[str, int], ...] = ()) -> BridgeVisit:
        """The packet entering ``bridge`` through the port named ``in_port``. ``ct_next``, as
        ``ofproto/trace --ct-next``: the ct_state of each recirculation after ct(table=N), in
        order (``trk,new`` once they run out) instead of what the engine's conntrack says.
        ``generate`` (the default): NORMAL learns the source before it looks the destination
        up, as the datapath and ``ofproto/trace -generate`` do; False: as plain ofproto/trace,
        the lookup sees the MAC table as it was before this NORMAL (it still learns, for a
        later NORMAL of the same packet). ``metadata``: slot values the packet comes with
        (``("nw_frag", 1)``: a first fragment)."""
        br = self._bridges.get(bridge)
        if br is None:
            raise SimulationError(f"host {self.host!r} has no OVS bridge {bridge!r}")
        if br.ofport(in_port) is None:
            raise SimulationError(f"bridge {bridge} on host {self.host!r} has no port {in_port!r}")
        key = (state.serial, state.version, bridge, in_port, packet, ct_next, generate,
               metadata)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        version = state.version
        visit = xlate.start(self, state, br, in_port, packet,
                            ct_next=list(ct_next) if ct_next is not None else None,
                            generate=generate, metadata=metadata)
        if state.version == version:  # the trace changed nothing: the same input gives this
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = visit
        return visit
