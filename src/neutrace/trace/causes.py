"""Why a copy ended, as facts (layer 2): the closed union `Cause` (`OpenFlowFate` with
`sim.annotate`'s `DropExplanation`, `Denial` with its `NetfilterVerdict`s, `LinuxFate`,
`WalkFate`, `IncompleteFate`)."""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.dataplane import Flow, Gap
from neutrace.packet import Packet
from neutrace.syntax.iptables import IptRule
from neutrace.trace.kinds import DropWhy, ExitCause, LinuxWhy, WalkWhy
from neutrace.trace.steps import Step

# -- why Neutron's flows dropped a packet (sim.annotate) --------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DropExplanation:
    """A drop in Neutron's terms: ``why``, in ``table`` of ``bridge`` on ``host``; ``vlan`` (local
    VLAN, ``None``: untagged), ``tun_id``, ``network`` (its name and type, ``None`` when no port
    of the host says), ``in_port``, ``address`` (spoofed IP or MAC) as they apply; ``listed``
    what the table does hold (flood VLANs, mapped tunnel ids, accepted VLANs)."""

    why: DropWhy
    bridge: str
    table: int
    host: str = ""
    vlan: int | None = None
    tun_id: int = 0
    network: str | None = None
    in_port: str = ""
    address: str = ""
    listed: tuple[int, ...] = ()


# -- why a copy ended ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenFlowFate:
    """An OVS bridge dropped the copy, sent it to the controller or hit a limit: ``cause`` in
    ``table`` (by ``flow``, decided by ``step``), and, for a drop, Neutron's reason
    (``explanation``, from ``sim.annotate``)."""

    bridge: str
    cause: ExitCause
    table: int | None = None
    flow: Flow | None = None
    step: Step | None = None
    explanation: DropExplanation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetfilterVerdict:
    """A DROP or REJECT of ``table`` at ``hook`` in the ruleset read from ``source``: by ``rule``
    (its line and text), or by the chain's policy (``rule`` None)."""

    verdict: str
    source: str
    table: str
    hook: str
    rule: IptRule | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Denial:
    """Netfilter denied the packet (every copy of a bridged flood: one verdict each)."""

    verdicts: tuple[NetfilterVerdict, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinuxFate:
    """A Linux bridge or a namespace's stack kept the packet: ``why`` (the comment of each
    `LinuxWhy` names the fields it uses)."""

    why: LinuxWhy
    namespace: str = ""
    device: str = ""
    bridge: str = ""
    host: str = ""
    ip: str = ""
    mac: str = ""
    number: int = 0
    knob: str = ""
    echo: bool = False
    packet: Packet | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkFate:
    """The walker ended the copy: ``why`` (the comment of each `WalkWhy` names the fields it
    uses)."""

    why: WalkWhy
    element: str = ""
    device: str = ""
    peer: str = ""
    bridge: str = ""
    host: str = ""
    ip: str = ""
    number: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IncompleteFate:
    """The copy reached a part of an imported state that is not known: the importer's
    ``gap`` (what is missing, why, and the file that would answer it)."""

    gap: Gap


Cause = OpenFlowFate | Denial | LinuxFate | WalkFate | IncompleteFate
