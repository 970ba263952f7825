"""A walk's verdict (layer 3): the one line an operator reads first — delivered, exited,
accepted, or denied/dropped — where and why, and how many copies there were.

The copy that decides it: the best success (delivered, then exited, then accepted); failing
that a denial (a security group said no); failing that the failure of the copy that got
furthest from the start. Read from the trace's dispositions and branch tree only.
"""

from __future__ import annotations

from neutrace.render.fates import fate_reason
from neutrace.render.phrases import say
from neutrace.render.walk import kind_word
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


def verdict_line(name: str, trace: Trace | None) -> str:
    """``[request] EXITED at internet-host: <why> (10 copies, 1 reached a destination)``."""
    if trace is None:
        return say("verdict.none", name=name)
    d = deciding(trace)
    where = " ".join(x for x in (d.host, d.element) if x)
    fates = trace.dispositions()
    ok = sum(1 for f in fates if f.success)
    copies = say("verdict.copy" if len(fates) == 1 else "verdict.copies", copies=len(fates),
                 ok=ok)
    return say("verdict", name=name, kind=kind_word(d.kind), where=where, reason=fate_reason(d),
               copies=copies)
