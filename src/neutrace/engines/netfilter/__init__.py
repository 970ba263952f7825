"""Netfilter traversal (layer 3): iptables rules evaluated as the kernel does, hook by hook.

`Netfilter` holds one namespace's parsed iptables-save, ip6tables-save and ipset text and
evaluates a table's chain for a packet (`Netfilter.run`): rules in order, matches of the modules
Neutron uses, jumps/gotos/RETURN, chain policies, and the targets ACCEPT, DROP, REJECT, LOG, MARK,
CONNMARK, CT, NOTRACK, SNAT, DNAT, MASQUERADE and REDIRECT.

`Traversal` walks one packet through the hooks in the kernel's order, with connection tracking
and NAT between the tables (priorities of ``include/uapi/linux/netfilter_ipv4.h``):

- PREROUTING: raw, conntrack lookup, mangle, nat (destination NAT);
- INPUT: mangle, filter, nat (source NAT), conntrack confirm;
- FORWARD: mangle, filter;
- OUTPUT: raw, conntrack lookup, mangle, nat (destination NAT), filter;
- POSTROUTING: mangle, nat (source NAT), conntrack confirm.

The nat table is only consulted for the first packet of a connection (NEW, before the binding is
decided); every later packet is rewritten from the conntrack entry. INVALID and untracked packets
skip the nat table. Bridged frames (bridge-nf-call-iptables=1) use the same hooks with the
physdev information of the bridge ports (`HookContext`).

Each step the traversal records is a fact of ``neutrace.trace``: a `ChainStep` when a built-in
chain of a table is entered (and when its policy decides), a `RuleStep` for every rule that
matched (the parsed rule, with its line in the save text, and its verdict or side effect), a
`ConntrackStep` for each conntrack decision, a `NatStep` for each NAT rewrite.

The package is split along the kernel's nouns: ``context`` (`PacketMeta`, `HookContext`),
``matches`` (the xt_* matches, `RuleMatcher`), ``targets`` (NAT requests and the side effects of
the non-terminal targets), ``chains`` (`Netfilter`: a table's chain evaluated rule by rule) and
``traversal`` (`Traversal`: the hooks, conntrack and NAT).
"""

from neutrace.engines.netfilter.chains import ACCEPT, DROP, REJECT, ChainResult, Netfilter
from neutrace.engines.netfilter.context import HookContext, PacketMeta
from neutrace.engines.netfilter.targets import NatRequest
from neutrace.engines.netfilter.traversal import (
    FORWARD,
    HOOK_ORDER,
    INPUT,
    OUTPUT,
    POSTROUTING,
    PREROUTING,
    Traversal,
)

__all__ = [
    "ACCEPT", "DROP", "FORWARD", "HOOK_ORDER", "INPUT", "OUTPUT", "POSTROUTING", "PREROUTING",
    "REJECT", "ChainResult", "HookContext", "Netfilter", "NatRequest", "PacketMeta", "Traversal",
]
