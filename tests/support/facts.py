"""Reading the facts of a trace in tests: the rules that denied a packet, the explanation of a
drop, the cause of a disposition's kind, without reading any rendered sentence."""

from __future__ import annotations

from neutrace.trace import (
    Cause,
    Denial,
    Disposition,
    DropExplanation,
    IncompleteFate,
    LinuxFate,
    LinuxWhy,
    OpenFlowFate,
    WalkFate,
    WalkWhy,
)


def denied_rules(cause: Cause | None) -> list[str]:
    """The rules (as iptables-save prints them) of the verdicts that denied a packet."""
    if not isinstance(cause, Denial):
        return []
    return [v.rule.text for v in cause.verdicts if v.rule is not None]


def explanation(d: Disposition) -> DropExplanation:
    """Neutron's reason for an OpenFlow drop (the test fails if there is none)."""
    assert isinstance(d.cause, OpenFlowFate) and d.cause.explanation is not None, d.cause
    return d.cause.explanation


def linux_why(cause: Cause | None) -> LinuxWhy | None:
    """What a Linux element's fate was (None: another kind of cause)."""
    return cause.why if isinstance(cause, LinuxFate) else None


def walk_fate(d: Disposition, why: WalkWhy) -> WalkFate:
    """The walker's fate of ``d``, which must be ``why``."""
    assert isinstance(d.cause, WalkFate) and d.cause.why is why, d.cause
    return d.cause


def gap_facts(d: Disposition) -> str:
    """What an ``incomplete`` disposition's gap says (its aspect, the importer's problem and the
    file), as one string to search (the test fails if it is not incomplete)."""
    assert isinstance(d.cause, IncompleteFate), d.cause
    g = d.cause.gap
    return f"{g.element} {g.aspect}: {g.problem} ({g.source})"
