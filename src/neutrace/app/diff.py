"""``neutrace diff`` and ``neutrace import-openstack`` (layer 5): what Neutron should have
programmed against what the hosts hold, in one call.

`expected_state` programs the expected cloud with neutrace's agents (`neutrace.agents`: the
same `HostState`s ``neutrace show`` prints) from a topology file (docs/topology.md) or from an
export of the cloud's Neutron objects (`neutrace.importers.openstack`): what the export lacks
(tunnel IPs, bridge mappings, NICs, the agents' options) comes from the captured hosts
themselves. `diff` imports the captures (`neutrace.importers.cloud`, cold: what the hosts learned
at run time is no programming) and compares them host by host
(`neutrace.verify.drift.compare`). `import_openstack` turns an export into a topology.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from neutrace.agents import program
from neutrace.dataplane import CloudState
from neutrace.drift import Drift
from neutrace.errors import CommandLineError
from neutrace.importers import openstack
from neutrace.importers.cloud import ImportedCloud, import_cloud
from neutrace.importers.diagnostics import Diagnostic
from neutrace.importers.openstack import Assumption, Hints, HostHints, Missing
from neutrace.importers.openstack_topology import to_topology
from neutrace.topology import from_dict, load
from neutrace.verify.drift import compare


@dataclass(frozen=True)
class DiffResult:
    """The comparison, the imported cloud it was made on, the import's diagnostics and what
    stood in for an export's gaps."""

    drift: Drift
    imported: ImportedCloud
    diagnostics: tuple[Diagnostic, ...] = ()
    assumptions: tuple[Assumption, ...] = ()


def is_topology(paths: Sequence[str | Path]) -> bool:
    """True when ``paths`` is one topology file (a YAML/JSON mapping with ``hosts``), not an
    export of Neutron objects."""
    if len(paths) != 1 or Path(paths[0]).suffix.lower() in (".yaml", ".yml"):
        return len(paths) == 1
    try:
        data = json.loads(Path(paths[0]).read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True  # let the topology loader name the problem
    return isinstance(data, dict) and "hosts" in data


def import_openstack(paths: Sequence[str | Path], hints: Hints | None = None,
                     name: str | None = None) -> openstack.Imported:
    """The topology of the export files ``paths`` (checked: it loads as a cloud)."""
    imp = to_topology(openstack.read(paths), hints, name or Path(paths[0]).stem)
    from_dict(imp.topology, source=_label(paths))
    return imp


def _label(paths: Sequence[str | Path]) -> str:
    return ", ".join(str(p) for p in paths) + " (as a topology)"


def topology_yaml(imp: openstack.Imported) -> str:
    """The topology as the text of a YAML file."""
    return yaml.safe_dump(imp.topology, sort_keys=False, default_flow_style=None, width=100)


def expected_state(paths: Sequence[str | Path], imported: ImportedCloud | None = None
                   ) -> tuple[CloudState, tuple[Assumption, ...]]:
    """What the agents program for the cloud ``paths`` describe (a topology file, or an
    export whose gaps the captured hosts of ``imported`` fill)."""
    if is_topology(paths):
        return program(load(paths[0])), ()
    hints = openstack.captured_hints(imported) if imported is not None else None
    imp = to_topology(openstack.read(paths), hints, Path(paths[0]).stem)
    state = program(from_dict(imp.topology, source=_label(paths)))
    return state, tuple(a for a in imp.assumptions if a.missing is not Missing.MANAGEMENT_IP)


def diff(expected: Sequence[str | Path], sources: Sequence[str | Path]) -> DiffResult:
    """The captures ``sources`` (sosreports, collect folders, archives) set beside the cloud
    ``expected`` describes."""
    if is_topology(expected):
        state, assumed = expected_state(expected)
        imported = import_cloud(sources)
    else:
        imported = import_cloud(sources)
        state, assumed = expected_state(expected, imported)
    drift = compare_states(state, imported)
    return DiffResult(drift, imported, imported.diagnostics, assumed)


def compare_states(state: CloudState, imported: ImportedCloud) -> Drift:
    """``imported`` (cold) beside ``state``."""
    return compare(state, imported.cold)


def option_hints(tunnel_ips: Sequence[str] = (), management_ips: Sequence[str] = (),
                 bridge_mappings: Sequence[str] = (), nics: Sequence[str] = (),
                 firewall_driver: str | None = None, l2_population: bool | None = None,
                 arp_responder: bool | None = None) -> Hints:
    """What the export lacks, from ``import-openstack``'s options: ``HOST=IP`` (tunnel and
    management IPs), ``[HOST:]PHYSNET:BRIDGE`` (a bridge mapping, of every host without a
    host), ``HOST:NIC:BRIDGE`` (a physical NIC on a mapped bridge)."""
    per: dict[str, dict[str, Any]] = {}

    def host(name: str) -> dict[str, Any]:
        return per.setdefault(name, {"bridge_mappings": [], "physical_nics": []})

    for opt, values in (("--tunnel-ip", tunnel_ips), ("--management-ip", management_ips)):
        for v in values:
            name, sep, ip = v.partition("=")
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise CommandLineError(opt, v, "not HOST=IP", f"give {opt} compute-1=10.0.0.5"
                                       ) from None
            host(name)["tunnel_ip" if opt == "--tunnel-ip" else "management_ip"] = ip
    every: list[tuple[str, str]] = []
    for v in bridge_mappings:
        parts = v.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise CommandLineError("--bridge-mapping", v, "not [HOST:]PHYSNET:BRIDGE",
                                   "give --bridge-mapping external:br-ex or "
                                   "--bridge-mapping net-1:external:br-ex")
        if len(parts) == 2:
            every.append((parts[0], parts[1]))
        else:
            host(parts[0])["bridge_mappings"].append((parts[1], parts[2]))
    for v in nics:
        parts = v.split(":")
        if len(parts) != 3 or not all(parts):
            raise CommandLineError("--nic", v, "not HOST:NIC:BRIDGE",
                                   "give --nic net-1:eth3:br-ex")
        h = host(parts[0])
        mapped = dict((b, p) for p, b in h["bridge_mappings"] or every)
        if parts[2] not in mapped:
            raise CommandLineError("--nic", v, f"bridge {parts[2]} is not mapped on "
                                   f"{parts[0]}", "give its --bridge-mapping too")
        h["physical_nics"].append((parts[1], parts[2], mapped[parts[2]]))
    hosts = {name: HostHints(
        management_ip=d.get("management_ip"), tunnel_ip=d.get("tunnel_ip"),
        bridge_mappings=tuple(d["bridge_mappings"]), physical_nics=tuple(d["physical_nics"]),
        l2_population=l2_population, arp_responder=arp_responder,
        firewall_driver=firewall_driver) for name, d in per.items()}
    defaults = HostHints(l2_population=l2_population, arp_responder=arp_responder,
                         firewall_driver=firewall_driver)
    return Hints(hosts, tuple(every), defaults)
