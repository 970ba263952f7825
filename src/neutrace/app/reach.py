"""Reachability over a whole cloud (layer 5): the walk of every pair of two selections.

A selector names a set of senders or destinations:

- ``all``: every VM; ``outside``: every outside host;
- ``network:NAME``, ``host:NAME``, ``sg:NAME``: the VMs with a port on that network, running on
  that host, with a port in that security group;
- anything else: a glob over VM and outside host names (``web-*``, ``vm1``).

Each pair (a source VM or outside host to a destination's first address) is walked from a cold
cloud, so pairs are independent: `reach` gives the same results serially or spread over a process
pool by source (``workers``), each worker holding its own walker of the same cloud file. The
results are facts (`PairResult`); ``neutrace.render.reach`` words them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from neutrace.errors import CommandLineError
from neutrace.model import Cloud
from neutrace.sim.scenarios import converse, find_endpoint
from neutrace.sim.walk import SimState, Walker
from neutrace.topology import load
from neutrace.trace import Disposition

__all__ = ["PairResult", "reach", "select"]


@dataclass(frozen=True)
class PairResult:
    """One pair's walk: ``reached`` when a copy ended well at the destination itself (delivered
    to it, or exited the cloud at an outside host);
    ``dispositions`` how every copy ended (the reason of a failure is among them)."""

    source: str
    destination: str
    ip: str
    reached: bool
    dispositions: tuple[Disposition, ...]


def select(cloud: Cloud, spec: str, option: str) -> list[str]:
    """The VM and outside host names ``spec`` selects, in the cloud's order."""
    kind, _, name = spec.partition(":")
    if spec == "all":
        return [vm.name for vm in cloud.vms]
    if spec == "outside":
        return [o.name for o in cloud.outside]
    if name and kind in ("network", "host", "sg"):
        if kind == "network":
            ids = {n.id for n in cloud.networks if name in (n.name, n.id)}
            wanted = {p.id for p in cloud.ports if p.network_id in ids}
        elif kind == "sg":
            ids = {g.id for g in cloud.security_groups if name in (g.name, g.id)}
            wanted = {p.id for p in cloud.ports if ids & set(p.security_groups)}
        else:
            ids = {h.name for h in cloud.hosts if h.name == name}
            wanted = {pid for vm in cloud.vms if vm.host in ids for pid in vm.port_ids}
        if not ids:
            raise CommandLineError(option, spec, f"the cloud has no {kind} {name!r}",
                                   f"name one of the cloud's {kind}s")
        return [vm.name for vm in cloud.vms if wanted & set(vm.port_ids)]
    names = [vm.name for vm in cloud.vms] + [o.name for o in cloud.outside]
    found = [n for n in names if fnmatch.fnmatchcase(n, spec)]
    if not found:
        raise CommandLineError(option, spec, "selects nothing",
                               "use all, outside, network:NAME, host:NAME, sg:NAME or a glob "
                               "over VM and outside host names")
    return found


def _walk_pairs(w: Walker, pairs: Sequence[tuple[str, str]], proto: str,
                dport: int) -> list[PairResult]:
    out = []
    for src, dst in pairs:
        target = find_endpoint(w, dst, option="--to")
        start = find_endpoint(w, src, toward=target.ip, option="--from")
        conv = converse(w, start, target.ip, SimState.cold(), proto, dport, reply=False)
        dispositions = conv.request.dispositions()
        reached = any(d.success and d.element == target.namespace for d in dispositions)
        out.append(PairResult(src, dst, target.ip, reached, dispositions))
    return out


_WORKER: dict[str, Walker] = {}


def _worker_pairs(path: str, pairs: Sequence[tuple[str, str]], proto: str,
                  dport: int) -> list[PairResult]:
    """In a pool's process: the walker of ``path`` built once per process, then the pairs."""
    from neutrace.app.session import walker

    if path not in _WORKER:
        _WORKER[path] = walker(path)
    return _walk_pairs(_WORKER[path], pairs, proto, dport)


def reach(path: str | Path, sources: str, destinations: str, proto: str = "icmp",
          dport: int = 0, workers: int = 1) -> list[PairResult]:
    """Every (source, destination) pair of the selections (a name never to itself), in
    source then destination order; ``workers`` > 1 walks the sources in a process pool."""
    from neutrace.app.session import walker

    cloud = load(path)
    srcs = select(cloud, sources, "--from")
    dsts = select(cloud, destinations, "--to")
    by_source = [[(s, d) for d in dsts if d != s] for s in srcs]
    if workers <= 1:
        w = walker(path)
        return [r for pairs in by_source for r in _walk_pairs(w, pairs, proto, dport)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunks = pool.map(_worker_pairs, [str(path)] * len(by_source), by_source,
                          [proto] * len(by_source), [dport] * len(by_source))
        return [r for chunk in chunks for r in chunk]
