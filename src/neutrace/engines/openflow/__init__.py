"""The OpenFlow engine (layer 3): Open vSwitch's ``ofproto/trace`` in Python, split as OVS splits
it: ``classifier`` (``lib/classifier.c``), ``values`` (``struct flow`` / meta-flow), ``bridge``,
``state`` (MAC learning tables, learned flows, conntrack), ``context`` (``struct xlate_ctx``),
``xlate`` (``ofproto-dpif-xlate.c``: tables, actions, outputs, patch and tunnel ports),
``normal`` (``xlate_normal`` + ``lib/mac-learning.c``), ``learn`` (``lib/learn.c``), ``ct``
(ct() and nat) and ``engine`` (`OpenFlowEngine`).

`OpenFlowEngine(bridges, host)` compiles each bridge's flows (lazily, one table at a time, on the
first lookup) into a tuple-space classifier like OVS's own: per table, subtables of flows that
match the same fields with the same masks, each a hash from the masked packet values to the
flows, visited by decreasing maximum priority. `run(bridge, in_port, packet, state)` walks one
packet through the pipeline and returns a `BridgeVisit` tree (patch ports continue into the peer
bridge as child visits).

Semantics follow ``ofproto-dpif-xlate.c``: priorities and masks, OVS's prerequisite
normalisation (a field whose prerequisites the match does not meet is ignored), resubmit and
goto_table (depth limit 64, deepened only by a lookup in the same or an earlier table and by a
patch port, as ``xlate_table_action``; ``resubmit(PORT,TABLE)``'s port is the lookup's in_port
only), table miss = drop, output/in_port/LOCAL/output:reg, NORMAL (``normal``: per-VLAN MAC
learning in `OpenFlowState`, the port VLAN modes access/trunk/native-tagged/native-untagged/
dot1q-tunnel, priority tags, NO_FLOOD/NO_FWD ports), port mirrors (``mirror``), VLAN
push/pop/mod, set_field/load/move, set_tunnel, learn() into the state's learned-flow tables,
conjunctive matches, ct() with a small conntrack (zones, commit, nat, recirculation to
``table``; ``--ct-next`` states), write_actions/clear_actions and groups (``group``:
all/indirect/ff, select with one live bucket), controller, patch ports and tunnel ports. A flow
using what the engine does not know (``Flow.unsupported``) stops only a packet that hits it.

NORMAL learns the source before it looks the destination up, as the datapath does (``run``'s
``generate=False``: the lookup first, as plain ``ofproto/trace``). Not modelled: flow timeouts
expiring (learned flows keep their idle/hard_timeout but never age), select groups' hash,
meters, MPLS, NSH, xreg/xxreg/tun_metadata fields, bundle/multipath, bonds, ct ``alg``/``+rel``
and IPv6 NAT. Modelled: IP fragments (``nw_frag``, the fragment handling mode), STP/RSTP port
states.

All mutable state (MAC tables, learned flows, conntrack) lives in `OpenFlowState`, owned by the
caller and keyed by (host, bridge) or (host, zone), so a trace can start cold or warm. A trace
that changed nothing in the state is cached: the same packet on the same state gets the same
`BridgeVisit` back.
"""

from neutrace.engines.openflow.bridge import NO_PORT
from neutrace.engines.openflow.classifier import compile_match, ignored_match_fields
from neutrace.engines.openflow.engine import OpenFlowEngine
from neutrace.engines.openflow.state import LearnedFlow, OpenFlowState
from neutrace.engines.openflow.values import packet_values, values_packet
from neutrace.engines.openflow.xlate import MAX_DEPTH, MAX_RECIRC, MAX_RESUBMITS

__all__ = [
    "MAX_DEPTH", "MAX_RECIRC", "MAX_RESUBMITS", "NO_PORT", "LearnedFlow", "OpenFlowEngine",
    "OpenFlowState",
    "compile_match", "ignored_match_fields", "packet_values", "values_packet",
]
