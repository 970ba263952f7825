"""The trace: pure data describing a packet's walk (layer 2).

Batfish's shape, extended to a tree because a flood or a multi-output action makes copies:

- a step: one thing an element did, as one small frozen class per kind of fact (the closed union
  `Step`): an OpenFlow table lookup with its table and matched flow (`TableLookup`), an action
  with the parsed action and the fields it changed (`ActionStep`), a NORMAL / Linux bridge /
  segment FDB decision (`FdbStep`), OVS conntrack (`CtStep`, `CtFork`, `CtResume`), an iptables
  chain or rule (`ChainStep`, `RuleStep`), kernel conntrack and NAT (`ConntrackStep`, `NatStep`),
  a route lookup (`RouteStep`), a neighbour resolution (`NeighbourStep`), a patch/veth/tap/segment
  crossing (`PatchCrossing`, `PeerCrossing`, `SegmentCrossing`, ...), an encapsulation or
  decapsulation (`TunnelStep`). Every step has ``depth`` (resubmit / user-chain nesting) and
  ``changes`` (the `FieldChange`s of a rewrite); its `StepKind` is a class attribute.
- `Hop`: the packet inside one element of one host (an OVS bridge, a Linux bridge, a namespace,
  a VM, the tunnel underlay, a physical segment) with the steps taken there.
- `Branch`: a run of hops; it ends either with a `Disposition` or by splitting into child
  branches (one per copy).
- `Trace`: where it started, the first packet and the root branch.

Nothing here renders: every sentence (OVS's and the kernel's own phrases included) is written by
``neutrace.render`` (``render.steps``, ``render.fates``) from these fields, and nothing reads a
sentence back.
Fields holding a kernel object as its own tool prints it (``route`` as ``ip route`` shows it,
``connection`` as ``conntrack -L`` does) are data of that tool's syntax, like a flow's text.

The package: ``kinds`` (the closed sets: `StepKind`, `HopKind`, `DispositionKind` and the enums
of the facts), ``steps`` (the step classes and `Step`), ``causes`` (`Cause`) and ``tree``
(`Hop`, `Disposition`, `Branch`, `Trace`); every name is importable from ``neutrace.trace``.
"""

from neutrace.trace.causes import (
    Cause,
    Denial,
    DropExplanation,
    IncompleteFate,
    LinuxFate,
    NetfilterVerdict,
    OpenFlowFate,
    WalkFate,
)
from neutrace.trace.kinds import (
    ACCEPTED,
    CONTROLLER,
    DELIVERED,
    DENIED,
    DROPPED,
    EXITED,
    HOP_EXTERNAL,
    HOP_LINUX_BRIDGE,
    HOP_NAMESPACE,
    HOP_OVS,
    HOP_SEGMENT,
    HOP_UNDERLAY,
    HOP_VM,
    INCOMPLETE,
    LIMIT,
    LOOP,
    NEIGHBOUR_UNRESOLVED,
    NO_ROUTE,
    STEP_ACTION,
    STEP_CHAIN,
    STEP_CONNTRACK,
    STEP_FDB,
    STEP_NAT,
    STEP_NEIGHBOUR,
    STEP_NOTE,
    STEP_ROUTE,
    STEP_RULE,
    STEP_TABLE,
    STEP_TUNNEL,
    STEP_WIRE,
    SUCCESS,
    ConntrackEvent,
    CopyKind,
    DispositionKind,
    DropWhy,
    ExitCause,
    FdbDecision,
    FdbSwitch,
    HopKind,
    LimitKind,
    LinuxWhy,
    NatKind,
    NatPortEvent,
    NeighbourEvent,
    OutputProblem,
    RuleEffect,
    RuleVerdict,
    StepKind,
    WalkWhy,
)
from neutrace.trace.steps import (
    ActionStep,
    BridgeNetfilterCopy,
    ChainStep,
    ConjunctionMatch,
    ConntrackStep,
    CtFork,
    CtResume,
    CtStep,
    EthernetStep,
    FdbStep,
    FrameSent,
    InternalPort,
    LearnStep,
    LimitStep,
    NatPortStep,
    NatStep,
    NeighbourStep,
    OutputSkipped,
    PatchCrossing,
    PatchOutput,
    PeerCrossing,
    RouteStep,
    RuleStep,
    SegmentCrossing,
    SourceAddressStep,
    Step,
    TableLookup,
    TtlExceeded,
    TtlStep,
    TunnelOutput,
    TunnelStep,
    VlanTagging,
    lasting_changes,
)
from neutrace.trace.tree import (
    Branch,
    CopyOrigin,
    Disposition,
    Hop,
    Trace,
)

__all__ = [
    "ACCEPTED", "ActionStep", "Branch", "BridgeNetfilterCopy", "CONTROLLER", "Cause", "ChainStep",
    "ConjunctionMatch", "ConntrackEvent", "ConntrackStep", "CopyKind", "CopyOrigin", "CtFork",
    "CtResume", "CtStep",
    "DELIVERED", "DENIED", "DROPPED", "Denial", "Disposition", "DispositionKind",
    "DropExplanation", "DropWhy", "EXITED", "EthernetStep", "ExitCause", "FdbDecision", "FdbStep",
    "FdbSwitch", "FrameSent", "HOP_EXTERNAL", "HOP_LINUX_BRIDGE", "HOP_NAMESPACE", "HOP_OVS",
    "HOP_SEGMENT", "HOP_UNDERLAY", "HOP_VM", "Hop", "HopKind", "INCOMPLETE", "IncompleteFate",
    "InternalPort", "LIMIT", "LOOP", "LearnStep", "LimitKind", "LimitStep", "LinuxFate",
    "LinuxWhy", "NEIGHBOUR_UNRESOLVED", "NO_ROUTE", "NatKind", "NatPortEvent", "NatPortStep",
    "NatStep", "NeighbourEvent", "NeighbourStep", "NetfilterVerdict", "OpenFlowFate",
    "OutputProblem", "OutputSkipped", "PatchCrossing", "PatchOutput", "PeerCrossing", "RouteStep",
    "RuleEffect", "RuleStep", "RuleVerdict", "STEP_ACTION", "STEP_CHAIN", "STEP_CONNTRACK",
    "STEP_FDB", "STEP_NAT", "STEP_NEIGHBOUR", "STEP_NOTE", "STEP_ROUTE", "STEP_RULE", "STEP_TABLE",
    "STEP_TUNNEL", "STEP_WIRE", "SUCCESS", "SegmentCrossing", "SourceAddressStep", "Step",
    "StepKind", "TableLookup", "Trace", "TtlExceeded", "TtlStep", "TunnelOutput", "TunnelStep",
    "VlanTagging", "WalkFate", "WalkWhy", "lasting_changes",
]
