"""``ovs-appctl ofproto/trace`` ⇄ `OfprotoTrace`: its passes (the first one and each
recirculation), and in each the bridges, table visits with the matched flow's match text and
priority (or a miss), actions and notes with their resubmit depth, ``Final flow``, ``Megaflow``
and ``Datapath actions``. ``format_ofproto_trace(parse_ofproto_trace(t)) == t``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import cut
from neutrace.syntax.text import lines as text_lines

# TraceLine kinds
T_FLOW = "flow"  # Flow: ...
T_BRIDGE = "bridge"  # bridge("br-int")
T_RULER = "ruler"  # ------ under a bridge line
T_TABLE = "table"  # " 0. in_port=3, priority 10" or " 0. No match."
T_ACTION = "action"
T_NOTE = "note"  # " >> ...", " -> ...", ">>>> ... <<<<"
T_FINAL = "final"  # Final flow: ...
T_MEGAFLOW = "megaflow"
T_DATAPATH = "datapath"  # Datapath actions: ...
T_SEPARATOR = "separator"  # =====
T_RECIRC = "recirc"  # recirc(0x1) - resume conntrack ...
T_BLANK = "blank"
T_OTHER = "other"  # a top-level message (e.g. "Translation failed ...")


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One line of ofproto/trace output: ``indent`` spaces, then ``text``. Table lines carry the
    table number, the matched flow's ``match`` text (``None`` for "No match."), ``priority`` and
    ``cookie``; ``bridge`` is the bridge the line belongs to; ``depth`` is the nesting as OVS
    prints it (OVS prints a resubmit that is the last action at its caller's level, so this is
    the visual nesting, not a resubmit count)."""

    kind: str
    text: str
    indent: int = 0
    depth: int = 0
    bridge: str = ""
    table: int | None = None
    match: str | None = None
    priority: int | None = None
    cookie: int = 0
    lineno: int = 0
    block: int = -1  # which bridge visit of its pass (0, 1, ...: the order of bridge headers)

    def __str__(self) -> str:
        return " " * self.indent + self.text


# ofproto-dpif's internal rules (table 254) that stand for a table miss
INTERNAL_MISS_MATCHES = frozenset({"reg0=0x1", "reg0=0x2", "reg0=0x3"})


@dataclass(frozen=True, slots=True)
class TableVisit:
    """One table lookup: bridge, table, the match text of the flow that matched (``None`` for a
    miss; ``""`` for a match-all flow), its priority and cookie, visual depth, and ``block``: which
    visit of a bridge it belongs to (the n-th bridge header of its pass)."""

    bridge: str
    table: int
    match: str | None
    priority: int | None
    cookie: int = 0
    depth: int = 0
    block: int = 0

    @property
    def is_miss(self) -> bool:
        """A table miss: "No match.", or one of OVS's internal miss rules, which ofproto/trace
        shows instead in a bridge reached through a patch port (``reg0=0x1`` send to the
        controller, ``reg0=0x2`` drop, ``reg0=0x3`` drop fragments; priority 0, cookie 0)."""
        return self.match is None or (
            self.match in INTERNAL_MISS_MATCHES and self.priority == 0 and self.cookie == 0
        )

    @property
    def flow_text(self) -> str | None:
        """``priority=10,arp,in_port=3`` (the ovs-ofctl spelling), or None for a miss."""
        if self.match is None:
            return None
        return f"priority={self.priority}" + (f",{self.match}" if self.match else "")


@dataclass(frozen=True, slots=True)
class TracePass:
    """One translation: the first, or a recirculation after ct() (``header`` says which)."""

    header: str
    flow: str
    lines: tuple[TraceLine, ...]
    final_flow: str
    megaflow: str
    datapath_actions: str

    @property
    def visits(self) -> tuple[TableVisit, ...]:
        return tuple(
            TableVisit(ln.bridge, ln.table, ln.match, ln.priority, ln.cookie, ln.depth, ln.block)
            for ln in self.lines
            if ln.kind == T_TABLE and ln.table is not None
        )

    @property
    def bridges(self) -> tuple[str, ...]:
        return tuple(ln.bridge for ln in self.lines if ln.kind == T_BRIDGE)

    @property
    def actions(self) -> tuple[TraceLine, ...]:
        return tuple(ln for ln in self.lines if ln.kind == T_ACTION)


@dataclass(frozen=True, slots=True)
class OfprotoTrace:
    """A parsed ``ofproto/trace`` output. ``lines`` keeps every line (for round trips)."""

    lines: tuple[TraceLine, ...]
    passes: tuple[TracePass, ...]

    @property
    def visits(self) -> tuple[TableVisit, ...]:
        return tuple(v for p in self.passes for v in p.visits)

    @property
    def datapath_actions(self) -> str:
        return self.passes[-1].datapath_actions if self.passes else ""


_TABLE_RE = re.compile(r"^( *[0-9]{1,3})\. (.*)$", re.S)
_PRIO_RE = re.compile(r"^(?:(.*), )?priority ([0-9]{1,5})(?:, cookie (0x[0-9a-fA-F]{1,16}))?$",
                      re.S)
_BRIDGE_RE = re.compile(r'^bridge\("(.*)"\)$')


def parse_ofproto_trace(text: str, source: str = "<ofproto/trace>") -> OfprotoTrace:
    """Parse the output of ``ovs-appctl ofproto/trace BRIDGE FLOW``."""
    lines: list[TraceLine] = []
    passes: list[TracePass] = []
    bridge = ""
    cur: list[TraceLine] = []
    header = ""
    flow = final = mega = ""
    in_pass = False
    last_action_depth = 0
    # open bridge blocks: [bridge, indent of its header, base level, block number]. A bridge
    # reached through a patch port is printed in column 0 when the output was the last thing to
    # do, else indented under it; its level (the column of its first table line) is learnt from
    # that line, and a later line less indented than that level belongs to an outer bridge.
    stack: list[list[Any]] = []
    blocks = 0
    text_lines(text, source)  # the bound on a line's length
    for lineno, raw in enumerate(text.split("\n"), 1):
        stripped = raw.lstrip(" ")
        indent = len(raw) - len(stripped)
        text_ = stripped.rstrip("\r")
        if text_ and indent and stack and not _BRIDGE_RE.match(text_) and set(text_) != {"-"}:
            tm = _TABLE_RE.match(raw)
            if tm:
                level = len(tm.group(1)) - 2
            elif text_.startswith((">>", "->")):
                level = indent - 5
            else:
                level = indent - 4
            if stack[-1][2] is None:
                stack[-1][2] = max(level, 0)
            while len(stack) > 1 and stack[-1][2] is not None and level < stack[-1][2]:
                stack.pop()
            bridge = stack[-1][0]
        base = (stack[-1][2] or 0) if stack else 0
        block = stack[-1][3] if stack else -1

        def bad(problem: str, _n: int = lineno) -> SyntaxParseError:
            return SyntaxParseError(source, f"line {_n}", problem,
                                    "give the unmodified output of `ovs-appctl ofproto/trace`", _n)

        kw: dict[str, object] = {"indent": indent, "lineno": lineno, "bridge": bridge,
                                 "block": block}
        if not text_:
            tl = TraceLine(T_BLANK, "", **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Flow: "):
            flow = text_[6:]
            in_pass = True
            cur = []
            tl = TraceLine(T_FLOW, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Final flow: "):
            final = text_[12:]
            tl = TraceLine(T_FINAL, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Megaflow: "):
            mega = text_[10:]
            tl = TraceLine(T_MEGAFLOW, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Datapath actions: "):
            tl = TraceLine(T_DATAPATH, text_, **kw)  # type: ignore[arg-type]
            if not in_pass:
                raise bad("'Datapath actions' without a preceding 'Flow:' line")
            cur.append(tl)
            passes.append(TracePass(header, flow, tuple(cur), final, mega, text_[18:]))
            lines.append(tl)
            cur = []
            header = flow = final = mega = ""
            bridge = ""
            stack = []
            blocks = 0
            in_pass = False
            continue
        elif indent == 0 and set(text_) == {"="}:
            tl = TraceLine(T_SEPARATOR, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("recirc("):
            header = text_
            tl = TraceLine(T_RECIRC, text_, **kw)  # type: ignore[arg-type]
        elif _BRIDGE_RE.match(text_):
            m = _BRIDGE_RE.match(text_)
            assert m is not None
            bridge = m.group(1)
            while stack and stack[-1][1] >= indent:
                stack.pop()
            stack.append([bridge, indent, 0 if indent == 0 else None, blocks])
            kw["bridge"] = bridge
            kw["block"] = blocks
            blocks += 1
            tl = TraceLine(T_BRIDGE, text_, depth=len(stack) - 1, **kw)  # type: ignore[arg-type]
        elif set(text_) == {"-"}:
            tl = TraceLine(T_RULER, text_, **kw)  # type: ignore[arg-type]
        elif _TABLE_RE.match(raw):
            m = _TABLE_RE.match(raw)
            assert m is not None
            depth = max(0, (len(m.group(1)) - 2 - base) // 4)
            rest = m.group(2)
            if rest.startswith(("No match", "Packets are IP fragments")):
                # (or: a fragment dropped by the fragment handling mode "drop", OVS's internal
                # drop_frags_rule: no flow of the table is looked at)
                # "No match." or, when the miss would go to a controller (a table configured by
                # an OpenFlow 1.0-1.2 connection), 'No match, and a "packet-in" is called for.'
                tl = TraceLine(T_TABLE, text_, depth=depth, table=int(m.group(1)), match=None,
                               **kw)  # type: ignore[arg-type]
            else:
                p = _PRIO_RE.match(rest)
                if p is None:
                    raise bad(f"table line without 'priority N': {cut(text_)!r}")
                tl = TraceLine(
                    T_TABLE, text_, depth=depth, table=int(m.group(1)), match=p.group(1) or "",
                    priority=int(p.group(2)), cookie=int(p.group(3) or "0", 16),
                    **kw,  # type: ignore[arg-type]
                )
            last_action_depth = depth
        elif indent == 0:
            tl = TraceLine(T_OTHER, text_, **kw)  # type: ignore[arg-type]
        elif text_.startswith((">>", "->")):
            tl = TraceLine(T_NOTE, text_, depth=last_action_depth, **kw)  # type: ignore[arg-type]
        else:
            depth = max(0, (indent - 4 - base) // 4)
            last_action_depth = depth
            tl = TraceLine(T_ACTION, text_, depth=depth, **kw)  # type: ignore[arg-type]
        lines.append(tl)
        if in_pass:
            cur.append(tl)
    if in_pass and final:
        # neutrace's own rendering ends a pass with Final flow and its Output:/Drop: lines
        passes.append(TracePass(header, flow, tuple(cur), final, mega, ""))
    if not passes:
        raise SyntaxParseError(source, "end of text", "no 'Datapath actions:' line found: the "
                               "trace is cut short or is not ofproto/trace output",
                               "give the complete output of `ovs-appctl ofproto/trace`")
    # a trailing newline leaves one blank line at the end: keep it so formatting round-trips
    return OfprotoTrace(tuple(lines), tuple(passes))


def format_ofproto_trace(trace: OfprotoTrace) -> str:
    return "\n".join(str(ln) for ln in trace.lines)
