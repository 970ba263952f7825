"""A walk's starting state from what captured hosts had learned (layer 4).

`state_from` turns the `neutrace.dataplane.Learned` of each host (as an importer read it: NORMAL's
MAC tables from ``ovs-appctl fdb/show``, Linux bridges' learned FDB entries, learned neighbours,
conntrack entries) into a `SimState`, so that a walk of an imported cloud starts where the cloud
was when it was captured ("warm"). ``SimState.cold()`` is the other choice.
"""

from __future__ import annotations

from collections.abc import Iterable

from neutrace.addr import mac_to_int
from neutrace.dataplane import Learned
from neutrace.engines.conntrack import CtEntry, CtTuple
from neutrace.sim.walk import SimState


def state_from(learned: Iterable[tuple[str, Learned]]) -> SimState:
    """The state the hosts had learned (``(host, Learned)`` pairs)."""
    state = SimState.cold()
    of, lx = state.openflow, state.linux
    for host, got in learned:
        for m in got.macs:
            of.macs.setdefault((host, m.bridge), {})[(m.vlan, mac_to_int(m.mac))] = m.port
        for f in got.fdb:
            lx.fdb_of(host, f.bridge)[f.mac] = f.port
        for n in got.neighbours:
            lx.neighbour_cache(host, n.namespace)[(n.device, n.ip)] = n.mac
        for c in got.connections:
            orig, reply = CtTuple(c.proto, *c.orig), CtTuple(c.proto, *c.reply)
            ports = c.proto not in (1, 58)  # ICMP's "ports" are its type, not translated
            src_nat = reply.dst != orig.src or (ports and reply.dport != orig.sport)
            dst_nat = reply.src != orig.dst or (ports and reply.sport != orig.dport)
            lx.conntrack_of(host, c.namespace).confirm(CtEntry(
                c.zone, orig, reply, seen_reply=c.replied, mark=c.mark, src_nat=src_nat,
                dst_nat=dst_nat, src_done=True, dst_done=True, confirmed=True))
    of.version += 1
    return state
