"""The OpenFlow side's mutable state (layer 3): what a real ovs-vswitchd keeps between packets.

`OpenFlowState` is owned by the caller and keyed by (host, bridge) or (host, zone): NORMAL's MAC
learning tables (``lib/mac-learning.c``), the flows learn() added (`LearnedFlow`), and OVS
conntrack (`Conn`). ``serial`` and ``version`` let the engine answer a trace that changed nothing
from its cache.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from neutrace.dataplane import Flow
from neutrace.engines.openflow.classifier import LearnedRule
from neutrace.engines.openflow.values import Match
from neutrace.syntax import offields as F


@dataclass(frozen=True, slots=True)
class LearnedFlow:
    """A flow added by learn(): where it lives and the flow itself (with its timeouts/cookie)."""

    host: str
    bridge: str
    flow: Flow


@dataclass(slots=True)
class Conn:
    """One OVS conntrack connection (``ct(commit)``): its key both ways (slot values), zone, mark,
    label, whether a reply was seen, and its NAT binding."""

    orig: tuple[int, ...]
    reply: tuple[int, ...]
    zone: int
    mark: int = 0
    label: int = 0
    replied: bool = False
    nat_kind: str = ""  # "src" / "dst"
    nat_orig: tuple[int, int] = (0, 0)  # (address, port) before NAT
    nat_new: tuple[int, int] = (0, 0)  # after


_STATE_SERIALS = itertools.count(1)


class OpenFlowState:
    """Mutable, caller-owned state of every OVS bridge of a cloud: NORMAL's MAC learning tables
    per (host, bridge), flows added by learn() per (host, bridge), conntrack per (host, zone)."""

    __slots__ = ("macs", "learned", "conntrack", "serial", "version")

    def __init__(self) -> None:
        """An empty (cold) state."""
        # ``serial`` tells states apart, ``version`` counts changes: together they say whether a
        # trace may be answered from the engine's cache (same input, same state: same result)
        self.serial = next(_STATE_SERIALS)
        self.version = 0
        # (host, bridge) -> {(vlan, mac as int): port name}
        self.macs: dict[tuple[str, str], dict[tuple[int, int], str]] = {}
        # (host, bridge) -> table -> {(priority, match): rule}
        self.learned: dict[tuple[str, str], dict[int, dict[tuple[int, Match], LearnedRule]]] = {}
        # (host, zone) -> {tuple key: connection}
        self.conntrack: dict[tuple[str, int], dict[tuple[int, ...], Conn]] = {}

    def copy(self) -> OpenFlowState:
        """An independent snapshot."""
        new = OpenFlowState()
        new.version = self.version
        new.macs = {k: dict(v) for k, v in self.macs.items()}
        new.learned = {k: {t: dict(r) for t, r in v.items()} for k, v in self.learned.items()}
        new.conntrack = {
            k: {ck: Conn(c.orig, c.reply, c.zone, c.mark, c.label, c.replied, c.nat_kind,
                          c.nat_orig, c.nat_new) for ck, c in v.items()}
            for k, v in self.conntrack.items()
        }
        return new

    def mac_table(self, host: str, bridge: str) -> dict[tuple[int, str], str]:
        """NORMAL's MAC table of a bridge: ``{(vlan, "fa:16:3e:..."): port name}``."""
        return {(vlan, F.int_to_mac(mac)): port
                for (vlan, mac), port in self.macs.get((host, bridge), {}).items()}

    def learned_flows(self, host: str = "", bridge: str = "") -> tuple[LearnedFlow, ...]:
        """The flows learn() added (optionally of one host/bridge), table by table."""
        out = []
        for (h, b), tables in sorted(self.learned.items()):
            if (host and h != host) or (bridge and b != bridge):
                continue
            for t in sorted(tables):
                for rule in tables[t].values():
                    out.append(LearnedFlow(h, b, rule.flow))
        return tuple(out)

    def connections(self, host: str = "") -> int:
        """How many conntrack entries exist (of one host, or all)."""
        return sum(len(v) for (h, _), v in self.conntrack.items() if not host or h == host)
