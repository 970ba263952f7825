"""A walk's verdict (layer 3): the one line an operator reads first — delivered, exited,
accepted, or denied/dropped — where and why, and how many copies there were.

The copy that decides it: the best success (delivered, then exited, then accepted); failing
that a denial (a security group said no); failing that the failure of the copy that got
furthest from the start. Read from the trace's dispositions and branch tree only.
"""

from __future__ import annotations

from neutrace.render.fates import fate_reason
from neutrace.trace import ACCEPTED, DELIVERED, DENIED, EXITED, Disposition, Trace

RANK = {DELIVERED: 3, EXITED: 2, ACCEPTED: 1}


def deciding(trace: Trace) -> Disposition:
    """The disposition that decides the walk's verdict (see the module docstring)."""
    fates = list(trace.paths())
    ok = [d for _, d in fates if d.success]
    if ok:
        return max(ok, key=lambda d: RANK.get(d.kind, 0))
    denied = [d for _, d in fates if d.kind == DENIED]
    if denied:
        return denied[0]
    return max(fates, key=lambda pd: len(pd[0]))[1]


def kind_word(kind: str) -> str:
    """A disposition kind as the verdict spells it (``NO ROUTE``)."""
    return kind.upper().replace("_", " ")


def verdict_line(name: str, trace: Trace | None) -> str:
    """``[request] EXITED at internet-host: <why> (10 copies, 1 reached a destination)``."""
    if trace is None:
        return f"[{name}] NONE: the request reached no one who answers"
    d = deciding(trace)
    where = " ".join(x for x in (d.host, d.element) if x)
    fates = trace.dispositions()
    ok = sum(1 for f in fates if f.success)
    copies = f"{len(fates)} cop{'y' if len(fates) == 1 else 'ies'}, {ok} reached a destination"
    return f"[{name}] {kind_word(d.kind)} at {where}: {fate_reason(d)} ({copies})"
