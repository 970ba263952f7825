"""``neutrace ofproto-trace``'s work (layer 5): find the OVS bridges (a sosreport, dump files or a
cloud the agents program), resolve where a microflow enters, and run the OpenFlow engine.

`bridges_from` loads the bridges; `start_point` turns ``in_port=...`` (a port name or an
OpenFlow port number) into the bridge and port name the engine takes; `trace` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from neutrace.dataplane import OvsBridge
from neutrace.engines.openflow import NO_PORT, OpenFlowEngine, OpenFlowState
from neutrace.engines.results import BridgeVisit
from neutrace.errors import CommandLineError, InputError
from neutrace.packet import Packet
from neutrace.syntax.microflow import parse_microflow
from neutrace.syntax.offields import (
    CT_STATE_FLAGS,
    FRAG_WORDS,
    FieldValueError,
    ct_state_bits,
    mac_to_int,
)
from neutrace.syntax.ovsfdb import MacEntry


@dataclass(frozen=True, slots=True)
class Start:
    """Where a microflow enters: the bridge, the port's name, the packet, extra fields
    (``nw_frag``)."""

    bridge: str
    in_port: str
    packet: Packet
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def metadata(self) -> tuple[tuple[str, int], ...]:
        """The extra fields as the engine's slot values (``nw_frag=first``: 1)."""
        return tuple((k, FRAG_WORDS[v][0] if v in FRAG_WORDS else int(v, 0))
                     for k, v in self.fields if k == "nw_frag")


def bridges_from(
    *, sos: str | Path | None = None, flows: Sequence[str] = (), ports: Sequence[str] = (),
    cloud: str | Path | None = None, host: str | None = None, bridge: str | None = None,
) -> tuple[OvsBridge, ...]:
    """The bridges of a sosreport (``sos``), of dump files (``flows``/``ports``, see
    `neutrace.importers.ovs_dumps.load_paths`) or of one host of a cloud the agents program."""
    given = [x for x in (sos is not None, bool(flows or ports), cloud is not None) if x]
    if len(given) != 1:
        raise InputError("command line", "", "give exactly one of --sos, --flows/--ports or "
                         "--cloud", "for example --sos ./sosreport-host-2024")
    if sos is not None:
        from neutrace.importers.ovs_dumps import load_sos

        return load_sos(sos)
    if cloud is not None:
        from neutrace import topology
        from neutrace.agents import program

        state = program(topology.load(str(cloud)))
        names = [h.name for h in state.hosts]
        if host is None:
            if len(names) != 1:
                raise CommandLineError("--host", "", f"{cloud} has several hosts",
                                       f"add --host (one of {', '.join(names)})")
            host = names[0]
        hs = state.host(host)
        if hs is None:
            raise CommandLineError("--host", host, f"{cloud} has no such host",
                                   f"use one of {', '.join(names)}")
        return hs.ovs_bridges
    if not flows or not ports:
        raise InputError("command line", "", "--flows and --ports go together",
                         "give the flows (dump-flows) and the ports (ovs-vsctl show and "
                         "ovs-ofctl show) of the bridges")
    from neutrace.importers.ovs_dumps import load_paths

    return load_paths(flows, ports, bridge)


def start_point(bridges: Sequence[OvsBridge], microflow: str, bridge: str | None = None,
                source: str = "MICROFLOW") -> Start:
    """Where ``microflow`` enters: its ``in_port`` (a name, or a number with ``bridge``)."""
    mf = parse_microflow(microflow, source=source)
    cleared = [k for k, _ in mf.fields if k != "nw_frag"]
    if cleared:
        raise InputError(source, cleared[0], "a packet enters a bridge with registers, "
                         "metadata and conntrack state cleared",
                         "leave out " + ", ".join(cleared))
    names = [b.name for b in bridges]
    chosen = [b for b in bridges if b.name == bridge] if bridge else list(bridges)
    if bridge and not chosen:
        raise CommandLineError("--bridge", bridge, "no bridge of that name",
                               f"use one of {', '.join(names)}")
    if not mf.in_port:
        # as ofproto/trace: no in_port is OFPP_NONE (the packet comes from no port)
        if len(chosen) != 1:
            raise InputError(source, "in_port", "the microflow has no in_port and there are "
                             f"several bridges ({', '.join(names)})",
                             "add --bridge, or start it with in_port=PORT")
        return Start(chosen[0].name, NO_PORT, mf.packet, mf.fields)
    for b in chosen:
        p = b.port(mf.in_port)
        if p is not None:
            return Start(b.name, p.name, mf.packet, mf.fields)
    if mf.in_port.isdigit() or mf.in_port == "LOCAL":
        if len(chosen) != 1:
            raise InputError(source, "in_port", f"in_port={mf.in_port} is a number and there "
                             f"are several bridges ({', '.join(names)})",
                             "add --bridge, or give the port's name")
        b = chosen[0]
        number = 65534 if mf.in_port == "LOCAL" else int(mf.in_port)
        p = b.port_by_ofport(number)
        if number == 65534 and p is None:
            return Start(b.name, b.name, mf.packet, mf.fields)
        if p is not None:
            return Start(b.name, p.name, mf.packet, mf.fields)
    raise InputError(source, "in_port", f"no port {mf.in_port!r} on "
                     f"{bridge or ', '.join(names)}",
                     "use a port name from `ovs-vsctl show` or an ofport from `ovs-ofctl show`")


def trace(bridges: Sequence[OvsBridge], start: Start, host: str = "",
          state: OpenFlowState | None = None,
          ct_next: tuple[int, ...] | None = None) -> BridgeVisit:
    """Run the OpenFlow engine from ``start`` (cold state unless one is given; ``ct_next``:
    `ct_next_states`)."""
    engine = OpenFlowEngine(bridges, host=host)
    # as plain ofproto/trace: NORMAL's lookup sees the MAC table as it was
    return engine.run(start.bridge, start.in_port, start.packet, state or OpenFlowState(),
                      ct_next=ct_next, generate=False, metadata=start.metadata)


def ct_next_states(values: Sequence[str]) -> tuple[int, ...] | None:
    """``--ct-next FLAGS`` (repeatable) as ofproto/trace takes them: ``trk,est`` (or
    ``+trk+est``), the ct_state of each recirculation in order; None when none is given (the
    engine's own conntrack answers)."""
    if not values:
        return None
    out = []
    for text in values:
        try:
            out.append(ct_state_bits(text))
        except FieldValueError as exc:
            raise CommandLineError("--ct-next", text, str(exc), "use " + ", ".join(
                CT_STATE_FLAGS) + " (e.g. trk,est)") from None
    return tuple(out)


def fdb_state(bridges: Sequence[OvsBridge], fdbs: Mapping[str, Sequence[MacEntry]],
              host: str = "", source: str = "--fdb") -> OpenFlowState:
    """An engine state whose NORMAL MAC tables hold ``fdbs`` (per bridge, as ``ovs-appctl
    fdb/show BR`` prints them: ports by OpenFlow number or ``LOCAL``)."""
    state = OpenFlowState()
    by_name = {b.name: b for b in bridges}
    for br, entries in fdbs.items():
        b = by_name.get(br)
        if b is None:
            raise InputError(source, br, f"no bridge {br!r} for this MAC table",
                             f"name one of {', '.join(by_name)}")
        table = state.macs.setdefault((host, br), {})
        for e in entries:
            port = b.port_by_ofport(e.port)
            name = port.name if port is not None else (br if e.port == 65534 else None)
            if name is None:
                raise InputError(source, f"{br} port {e.port}", "the MAC table names a port "
                                 "the bridge does not have",
                                 f"check that the fdb/show dump is of bridge {br}")
            table[(e.vlan, mac_to_int(e.mac))] = name
    return state
