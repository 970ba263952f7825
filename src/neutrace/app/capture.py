"""Tracing a real cloud (layer 5): captured hosts to a walker, in one call.

- `load`: sosreports, ``neutrace collect`` folders and their archives
  (`neutrace.importers.cloud.import_cloud`), plus what lies outside the hosts (``outside``: a
  topology file whose ``outside:`` hosts and gateways sit on the physical networks the hosts'
  NICs plug into: docs/topology.md);
- `trace`: a conversation on it, in one of three states: ``warm`` (the default: what the hosts
  had learned when captured — NORMAL's MAC tables, learned flows, Linux bridge FDBs, neighbours,
  conntrack — and then the same exchange run once, so the walk shows the steady state as
  ``neutrace trace CLOUD --warm`` does), ``captured`` (what the hosts had learned, nothing more:
  the first packet as the cloud stood) or ``cold`` (nothing learned, learned flows left out).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from neutrace.agents.outside import program_outside
from neutrace.app import session
from neutrace.dataplane import CloudState, Namespace, Segment
from neutrace.errors import InputError
from neutrace.importers.cloud import ImportedCloud, import_cloud
from neutrace.sim.learned import state_from
from neutrace.sim.scenarios import Conversation
from neutrace.sim.walk import SimState, Walker
from neutrace.topology import from_dict
from neutrace.topology import load as load_topology


class Start(enum.StrEnum):
    """The state a walk of an imported cloud starts from."""

    warm = "warm"
    captured = "captured"
    cold = "cold"


@dataclass(frozen=True)
class Imported:
    """An imported cloud with its outside, ready to walk."""

    cloud: ImportedCloud
    external: tuple[Namespace, ...] = ()
    segments: tuple[Segment, ...] = ()

    def state(self, start: Start = Start.warm) -> CloudState:
        """The cloud state for ``start`` (cold leaves learned flows out)."""
        cs = self.cloud.state(cold=start is Start.cold)
        names = {s.name for s in cs.segments}
        return replace(cs, external=cs.external + self.external,
                       segments=cs.segments + tuple(s for s in self.segments
                                                    if s.name not in names))

    def walker(self, start: Start = Start.warm) -> Walker:
        """A walker over the state for ``start``."""
        return Walker(self.state(start))


def load(sources: Sequence[str | Path], outside: str | Path | None = None,
         names: Mapping[str, str] | None = None) -> Imported:
    """The hosts of ``sources`` as one cloud, with the outside hosts of ``outside`` and the
    networks' ``names`` (network id -> name: OVS knows only ids; explanations use names)."""
    ic = import_cloud(sources)
    if names:
        meta = tuple(m for m in ic.warm.metadata if not m[0].startswith("network:")) + tuple(
            (f"network:{k}", v) for k, v in sorted(names.items()))
        ic = replace(ic, warm=replace(ic.warm, metadata=meta),
                     cold=replace(ic.cold, metadata=meta))
    if outside is None:
        return Imported(ic)
    external, wires = outside_namespaces(outside)
    if wires:
        ic = replace(ic, warm=_rename_segments(ic.warm, wires),
                     cold=_rename_segments(ic.cold, wires))
    segs = tuple(Segment(n) for n in sorted({i.segment for ns in external for i in ns.interfaces
                                             if i.segment}))
    return Imported(ic, external, segs)


def _rename_segments(cs: CloudState, wires: Mapping[str, str]) -> CloudState:
    """``cs`` with each physical network's segment named as the topology names its wire."""
    hosts = tuple(replace(h, namespaces=tuple(replace(ns, interfaces=tuple(
        replace(i, segment=wires.get(i.segment, i.segment)) if i.segment else i
        for i in ns.interfaces)) for ns in h.namespaces)) for h in cs.hosts)
    segs = tuple(replace(s, name=wires.get(s.name, s.name)) for s in cs.segments)
    return replace(cs, hosts=hosts, segments=segs)


def outside_namespaces(path: str | Path) -> tuple[tuple[Namespace, ...], dict[str, str]]:
    """The outside hosts of a topology file, and how it names the physical networks' wires
    (physical network -> segment). The file is a whole cloud description (its hosts' NICs say
    which wire each physical network is), or holds only ``name:`` and ``outside:`` (each
    outside host on a ``segment`` named after a physical network, or ``via`` a gateway)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(str(p), "", f"cannot read it ({exc})", "give a YAML topology file "
                         "with an outside: list") from None
    if isinstance(data, dict) and "hosts" in data:  # a whole cloud description
        cloud = load_topology(p)
        wires: dict[str, str] = {}
        for h in cloud.hosts:
            mapped = {br: physnet for physnet, br in h.bridge_mappings}
            for nic in h.physical_nics:
                if nic.bridge in mapped:
                    wires.setdefault(mapped[nic.bridge], nic.segment)
        return tuple(program_outside(cloud)), wires
    if not isinstance(data, dict) or not data.get("outside"):
        raise InputError(str(p), "", "no outside: list", "list the outside hosts under "
                         "outside: (docs/topology.md)")
    # only the outside: one stub host whose NICs plug into the segments named there, so the
    # topology's own checks (and MACs, prefix lengths) apply
    segments = sorted({o["segment"] for o in data["outside"] if isinstance(o, dict)
                       and isinstance(o.get("segment"), str)})
    stub = {"name": "outside-stub", "management_ip": "0.0.0.1",
            "bridge_mappings": {s: f"br-{i}" for i, s in enumerate(segments)},
            "physical_nics": [{"name": f"eth{i}", "bridge": f"br-{i}", "segment": s}
                              for i, s in enumerate(segments)]}
    doc = {"name": data.get("name", p.stem), "hosts": [stub], "outside": data["outside"]}
    return tuple(program_outside(from_dict(doc, source=str(p)))), {}


def trace(imp: Imported, source: str, destination: str, proto: str = "icmp", dport: int = 0,
          start: Start = Start.warm, reply: bool = False, sport: int = 0) -> Conversation:
    """``source`` sends to ``destination`` through the imported cloud, from ``start``
    (`neutrace.app.session.trace` on the imported state, from what the hosts had learned)."""
    state = SimState.cold() if start is Start.cold else state_from(imp.cloud.learned)
    return session.trace(imp.walker(start), source, destination, proto, dport,
                         warm=start is Start.warm, reply=reply, state=state, sport=sport)
