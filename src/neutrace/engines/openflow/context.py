"""The translation context (layer 3): OVS's ``struct xlate_ctx``, one per bridge visit.

Every translation function takes an `XlateCtx` first (``xlate_table(ctx, 0)``,
``xlate_normal(ctx)``), as every function of ``ofproto-dpif-xlate.c`` takes ``ctx``. It holds the
bridge, the packet's values as they are rewritten, the steps and exits recorded, why the copy
would be dropped, the recirculations ct() asked for, and where the translation is: ``depth``
(resubmit / goto_table / patch-port recursion, bounded by MAX_DEPTH), ``sdepth`` (the nesting
shown in the trace, restarting at 0 in each bridge) and ``table`` (the table whose flow runs).
``action_set`` holds what write_actions() wrote. ``resubmits`` and ``patch_chain`` count over
the whole translation: a patch port's peer visit gets
its own context and hands the count back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neutrace.dataplane import Flow
from neutrace.engines.openflow.bridge import Bridge
from neutrace.engines.openflow.state import OpenFlowState
from neutrace.engines.openflow.values import FIELD_NAMES, N_PACKET, Values, values_packet
from neutrace.engines.results import OfExit
from neutrace.packet import Packet
from neutrace.syntax.ofactions import Action
from neutrace.trace import ExitCause, Step

if TYPE_CHECKING:
    from neutrace.engines.openflow.engine import OpenFlowEngine

Drop = tuple[ExitCause, int | None, Flow | None, Step | None]  # cause, table, flow, step


class XlateCtx:
    """One bridge visit in progress (see the module docstring)."""

    __slots__ = ("engine", "state", "bridge", "in_port", "packet", "base_v", "v", "steps",
                 "exits", "drop", "recirc", "stopped", "depth", "sdepth", "table", "resubmits",
                 "patch_chain", "action_set", "ct_next", "mirrors", "generate", "_packets",
                 "_args")

    def __init__(self, engine: OpenFlowEngine, state: OpenFlowState, bridge: Bridge,
                 in_port: str, packet: Packet, v: Values, depth: int = 0,
                 resubmits: int = 0, patch_chain: list[str] | None = None) -> None:
        """A visit of ``bridge`` by ``packet`` (``v``: its values) entering at ``in_port``."""
        self.engine = engine
        self.state = state
        self.bridge = bridge
        self.in_port = in_port
        self.packet = packet
        self.base_v = list(v)
        self.v = v
        self.steps: list[Step] = []
        self.exits: list[OfExit] = []
        self.drop: Drop | None = None
        self.recirc: list[tuple[int, Values]] = []
        self.stopped = False
        self.depth = depth
        self.sdepth = 0
        self.table = 0
        self.resubmits = resubmits
        self.patch_chain: list[str] = patch_chain if patch_chain is not None else []
        self.action_set: list[Action] = []  # write_actions' (OpenFlow 1.1+), run at the end
        self.ct_next: list[int] | None = None  # --ct-next: each recirculation's ct_state
        self.mirrors = 0  # the mirrors (bits of Bridge.mirrors) that have had their copy
        self.generate = True  # NORMAL learns before its lookup (OpenFlowEngine.run)
        self._packets: dict[tuple[int, ...], Packet] = {}
        self._args: list[object] | None = None

    def current_packet(self) -> Packet:
        """The packet as it is now (copies with the same headers share one Packet)."""
        key = tuple(self.v[:N_PACKET])
        p = self._packets.get(key)
        if p is None:
            if self._args is None:
                base = self.packet
                self._args = [base.__getattribute__(n) for n in FIELD_NAMES]
            p = self._packets[key] = values_packet(self.packet, self.base_v, self.v, self._args)
        return p

    def dropping(self, cause: ExitCause, flow: Flow | None = None,
                 step: Step | None = None) -> None:
        """Note why the copy is dropped if nothing outputs it (the last reason wins)."""
        self.drop = (cause, self.table, flow, step)
