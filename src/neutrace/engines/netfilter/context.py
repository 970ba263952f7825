"""What netfilter knows about one packet while it is in one namespace (`PacketMeta`: skb mark,
conntrack zone, template and entry, direction, ctstate) and the devices a hook sees
(`HookContext`), shared by the matches, the targets, the chains and the traversal."""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.engines.conntrack import ORIGINAL, CtEntry


@dataclass
class PacketMeta:
    """Per-packet kernel state while it is inside one namespace: skb mark, conntrack zone and
    notrack flag (from the raw table), the connection and direction, and its ctstate."""

    mark: int = 0
    zone: int = 0
    notrack: bool = False
    ct: CtEntry | None = None
    ct_id: int | None = None
    direction: str = ORIGINAL
    ctstate: str = ""  # NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED; "" before conntrack ran
    templated: bool = False  # a CT/NOTRACK target already attached a template (first one wins)


@dataclass(frozen=True, slots=True)
class HookContext:
    """The devices a hook sees: ``in_dev``/``out_dev`` ("" when none: OUTPUT has no in, INPUT
    and POSTROUTING... as in the kernel); for bridged frames the bridge ports in ``physdev_*``."""

    in_dev: str = ""
    out_dev: str = ""
    physdev_in: str | None = None
    physdev_out: str | None = None
    bridged: bool = False
