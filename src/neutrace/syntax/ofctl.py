"""ovs-ofctl flow syntax (layer 2): format and parse `Flow`s as ``ovs-ofctl add-flow(s)`` and
``dump-flows`` write them.
"""

from __future__ import annotations

from neutrace.dataplane import Flow


def format_match(flow: Flow) -> str:
    return ",".join(k if v == "" else f"{k}={v}" for k, v in flow.match)


def format_flow(flow: Flow, *, cookie: bool = True) -> str:
    """One line for ``ovs-ofctl add-flows``: ``cookie=0x..., table=22, priority=1,dl_vlan=1 actions=...``
    (the shape of ``dump-flows`` without its statistics)."""
    head = []
    if cookie:
        head.append(f"cookie={flow.cookie:#x}")
    head.append(f"table={flow.table}")
    if flow.idle_timeout:
        head.append(f"idle_timeout={flow.idle_timeout}")
    if flow.hard_timeout:
        head.append(f"hard_timeout={flow.hard_timeout}")
    match = ",".join([f"priority={flow.priority}", *filter(None, [format_match(flow)])])
    return ", ".join(head) + ", " + match + " actions=" + flow.actions
