"""``neutrace diff`` (layer 5): what Neutron should have programmed against what the hosts hold,
in one call.

`expected_state` programs the expected cloud with neutrace's agents (`neutrace.agents`: the
same `HostState`s ``neutrace show`` prints) from a topology file (docs/topology.md) or from an
export of the cloud's Neutron objects (`neutrace.importers.openstack`: what the export lacks
comes from the options, else from the captured hosts themselves: their agents' configuration and
tunnel IPs); `diff` imports the captures (`neutrace.importers.cloud`, cold: what the hosts
learned at run time is no programming) and compares them host by host
(`neutrace.verify.drift.compare`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from neutrace.agents import program
from neutrace.dataplane import CloudState
from neutrace.drift import Drift
from neutrace.importers.cloud import ImportedCloud, import_cloud
from neutrace.importers.diagnostics import Diagnostic
from neutrace.topology import load
from neutrace.verify.drift import compare


@dataclass(frozen=True)
class DiffResult:
    """The comparison, the imported cloud it was made on and the import's diagnostics."""

    drift: Drift
    imported: ImportedCloud
    diagnostics: tuple[Diagnostic, ...] = ()


def expected_state(paths: Sequence[str | Path]) -> CloudState:
    """What the agents program for the cloud a topology file describes."""
    return program(load(paths[0]))


def diff(expected: Sequence[str | Path], sources: Sequence[str | Path]) -> DiffResult:
    """The captures ``sources`` (sosreports, collect folders, archives) set beside the cloud
    ``expected`` describes."""
    state = expected_state(expected)
    imported = import_cloud(sources)
    drift = compare(state, imported.cold)
    return DiffResult(drift, imported, imported.diagnostics)
