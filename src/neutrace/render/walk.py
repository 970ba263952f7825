"""Rendering a `neutrace.trace.Trace` for people (layer 3): the readable walk and the summary.

- `walk_text`: numbered steps like the seed's blog post — for each hop the host, the device,
  what happened there and why (the matched flow, the iptables rule, the route, the neighbour, the
  NAT, the encapsulation) and the field changes; a flood or a multi-output splits the walk into
  numbered copies (``4.1``, ``4.2``…), each followed to its fate; the copy that gets furthest
  (delivered, else exited, else accepted) continues the main numbering (``5``, ``6``…).
- `walk_summary`: one line per hop (host, element, in → out, the packet) and one per fate.

``fold=True`` writes each copy that a flood or a multi-output sends off and that dies at its
first hop (the LOCAL port that is down, a DHCP tap for another host, br-ex's VLAN check) on one
line with its fate. A VXLAN encapsulation shows the outer header it puts around the frame, not a
rewrite of the frame's own fields.

``verbose=False`` leaves out the purely structural steps (``goto_table``/``resubmit`` actions,
entering a built-in chain, jumps into Neutron's wrapper chains, patch-port notes:
`neutrace.render.steps.is_structural`); ``verbose=True`` shows them all. The steps' words are
``neutrace.render.steps``', the fates' ``neutrace.render.fates``'.
"""

from __future__ import annotations

from neutrace.packet import IPPROTO_GRE, FieldChange
from neutrace.render.fates import fate_reason
from neutrace.render.packets import packet_summary
from neutrace.render.phrases import say
from neutrace.render.steps import (
    copy_label,
    detail_in_text,
    is_structural,
    step_detail,
    step_text,
    step_where,
)
from neutrace.syntax.ofctl import format_flow
from neutrace.trace import (
    ACCEPTED,
    DELIVERED,
    EXITED,
    Branch,
    Disposition,
    Hop,
    RuleStep,
    Step,
    StepKind,
    TableLookup,
    Trace,
    TunnelStep,
)


def _hide(step: Step, verbose: bool) -> bool:
    """Leave a structural step out of the readable walk (unless ``verbose``)."""
    return not verbose and is_structural(step)


def _where(hop: Hop) -> str:
    """``host: element (kind)``."""
    return say("text.where", host=hop.host or say("text.outside"), element=hop.element,
               kind=say(f"hop.{hop.kind}"))


def _step_line(step: Step) -> str:
    """One step of the readable walk: a table with the flow that matched (without its cookie
    and table), a rule with where it is and the rule itself, the rest with their detail."""
    if isinstance(step, TableLookup):
        head = say("walk.table", table=step.table)
        if step.flow is None:
            return head + step_text(step)
        return head + format_flow(step.flow, cookie=False, table=False)
    if isinstance(step, RuleStep):
        return say("walk.rule", where=step_where(step), text=step_text(step),
                   detail=step_detail(step))
    text = step_text(step)
    detail = step_detail(step)
    if detail and not detail_in_text(step):
        text += say("walk.detail", detail=detail)
    return text


def _changes(changes: tuple[FieldChange, ...]) -> str:
    """The field changes (the payload left out)."""
    shown = [c for c in changes if c.field != "payload"]
    return ", ".join(str(c) for c in shown)


def _fate(d: Disposition) -> str:
    """``=> DROPPED: reason``."""
    return say("text.fate", kind=kind_word(d.kind), reason=fate_reason(d))


def kind_word(kind: str) -> str:
    """A disposition kind as the walk and the verdict spell it (``NO ROUTE``)."""
    return say(f"disposition.{kind}")


def walk_text(trace: Trace, verbose: bool = False, title: str = "", fold: bool = False) -> str:
    """The readable walk (see the module docstring)."""
    lines = [title or say("text.title", start=trace.start, packet=packet_summary(trace.packet))]
    _branch_text(trace.root, "", 0, 0, lines, verbose, fold)
    fates = trace.dispositions()
    ok = sum(1 for d in fates if d.success)
    lines.append(say("text.copies", copies=len(fates), ok=ok))
    return "\n".join(lines) + "\n"


_RANK = {DELIVERED: 3, EXITED: 2, ACCEPTED: 1}


def _rank(branch: Branch) -> int:
    """How well the best copy of ``branch`` fared: delivered > exited > accepted > failed."""
    return max((_RANK.get(d.kind, 0) for _, d in branch.paths()), default=0)


def _main_child(branch: Branch) -> Branch | None:
    """The copy the walk follows at the top level (the first one that fared best), if any."""
    best = max((_rank(c) for c in branch.children), default=0)
    if best == 0:
        return None
    return next(c for c in branch.children if _rank(c) == best)


def _trivial(branch: Branch) -> bool:
    """A copy that died at its first hop."""
    return (len(branch.hops) == 1 and not branch.children and branch.disposition is not None
            and not branch.disposition.success)


def _encapsulation(step: Step) -> str | None:
    """The outer header a tunnel encapsulation step put around the frame, if it is one."""
    frame = next((c for c in step.changes if c.field == "payload"), None)
    if frame is None or frame.before is not None or frame.after is None:
        return None
    after = {c.field: c.after for c in step.changes}
    if after.get("nw_proto") == IPPROTO_GRE:
        return say("walk.outer_header_gre", dl_src=after.get("dl_src", "?"),
                   dl_dst=after.get("dl_dst", "?"), nw_src=after.get("nw_src", "?"),
                   nw_dst=after.get("nw_dst", "?"),
                   tun_id=step.vni if isinstance(step, TunnelStep) else 0)
    return say("walk.outer_header", dl_src=after.get("dl_src", "?"),
               dl_dst=after.get("dl_dst", "?"), nw_src=after.get("nw_src", "?"),
               nw_dst=after.get("nw_dst", "?"), tp_src=after.get("tp_src", 0),
               tp_dst=after.get("tp_dst", "?"))


def _branch_text(branch: Branch, prefix: str, start: int, indent: int, lines: list[str],
                 verbose: bool, fold: bool = False) -> None:
    """Hops numbered ``prefix`` + 1, 2...; at a split the other copies are numbered
    ``<n>.1``, ``<n>.2``... (nested, each to its fate) and the copy that gets furthest continues
    at ``<n+1>`` on the same level, as the seed numbers its walk."""
    pad = "   " * indent
    n = start
    for hop in branch.hops:
        n += 1
        number = f"{prefix}{n}"
        in_port = say("text.in_port", port=hop.in_port) if hop.in_port else ""
        lines.append(pad + say("text.hop", number=number, where=_where(hop), in_port=in_port,
                               packet=packet_summary(hop.packet)))
        for step in hop.steps:
            if _hide(step, verbose):
                continue
            spad = pad + "      " + "  " * step.depth
            lines.append(f"{spad}{_step_line(step)}")
            outer = _encapsulation(step) if isinstance(step, TunnelStep) else None
            if outer is not None:
                lines.append(f"{spad}  {outer}")
            elif step.changes and (verbose or step.kind is not StepKind.ACTION):
                lines.append(spad + "  " + say("text.changes", changes=_changes(step.changes)))
        if hop.out_port is not None:
            diff = _changes(hop.packet.diff(hop.out_packet)) if hop.out_packet is not None \
                else ""
            lines.append(pad + "      " + say("text.out", port=hop.out_port,
                                            changes=say("text.out_changes", changes=diff)
                                            if diff else ""))
    if branch.disposition is not None:
        lines.append(f"{pad}   {_fate(branch.disposition)}")
    main = _main_child(branch)
    base = f"{prefix}{n}." if n else prefix
    for i, child in enumerate(branch.children, 1):
        label = f"{base}{i}"
        if child is main:
            lines.append(pad + "   " + say("text.continues", number=label,
                                           copy=copy_label(child.origin), at=f"{prefix}{n + 1}"))
            continue
        if fold and _trivial(child) and child.disposition is not None:
            hop = child.hops[0]
            lines.append(pad + "   " + say(
                "text.folded", number=label, copy=copy_label(child.origin),
                host=hop.host or say("text.outside"), element=hop.element,
                fate=_fate(child.disposition)))
            continue
        lines.append(pad + "   " + say("text.copy", number=label, copy=copy_label(child.origin)))
        _branch_text(child, f"{label}.", 0, indent + 1, lines, verbose, fold)
    if main is not None:
        _branch_text(main, prefix, n, indent, lines, verbose, fold)


def walk_summary(trace: Trace) -> str:
    """One line per hop and one per fate, indented by copy."""
    lines = [say("summary.title", start=trace.start, packet=packet_summary(trace.packet))]
    _branch_summary(trace.root, 0, lines)
    return "\n".join(lines) + "\n"


def _hop_line(hop: Hop) -> str:
    """A hop of the summary: host, element, in -> out, the packet."""
    ports = say("summary.ports", in_port=hop.in_port or "-", out_port=hop.out_port or "*")
    return say("summary.hop", host=hop.host or say("text.outside"), element=hop.element,
               ports=ports, packet=packet_summary(hop.packet))


def _branch_summary(branch: Branch, indent: int, lines: list[str]) -> None:
    """A branch of the summary and its copies, indented."""
    pad = "  " * indent
    if branch.origin is not None:
        lines.append(pad + say("summary.copy", copy=copy_label(branch.origin)))
    for hop in branch.hops:
        lines.append(f"{pad}  {_hop_line(hop)}")
    if branch.disposition is not None:
        lines.append(f"{pad}  {_fate(branch.disposition)}")
    for child in branch.children:
        _branch_summary(child, indent + 1, lines)
