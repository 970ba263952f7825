"""What an import could not read, and what that costs (layer 3).

Partial and messy captures are the normal case. Every gap becomes a `Diagnostic` (a message
for the operator: which file, what is wrong or missing, what it costs a trace) and, when it
leaves a piece of the state unknown, a `neutrace.dataplane.Gap` on the host, so that a walk
reaching that piece stops there with the file's name instead of silently dropping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neutrace.dataplane import Gap

WARNING = "warning"  # a piece of the state is missing or unusable
NOTE = "note"        # read, with a caveat worth knowing


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of an import: ``source`` is the file (``capture/path``) it is about."""

    host: str
    source: str
    problem: str
    cost: str = ""
    level: str = WARNING

    def __str__(self) -> str:
        text = f"{self.level}: {self.host}: {self.source}: {self.problem}"
        return text + (f"; {self.cost}" if self.cost else "")


@dataclass
class Findings:
    """The diagnostics and gaps of one host, collected while importing it."""

    host: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def warn(self, source: str, problem: str, cost: str = "") -> None:
        """A warning that leaves no piece of the state unknown (it is read, but worse)."""
        self.diagnostics.append(Diagnostic(self.host, source, problem, cost, WARNING))

    def note(self, source: str, problem: str, cost: str = "") -> None:
        """Something read with a caveat."""
        self.diagnostics.append(Diagnostic(self.host, source, problem, cost, NOTE))

    def gap(self, element: str, aspect: str, source: str, problem: str, cost: str) -> None:
        """A piece of the state is unknown: a warning, and a `Gap` the walk will stop at."""
        self.diagnostics.append(Diagnostic(self.host, source, problem, cost, WARNING))
        self.gaps.append(Gap(element, aspect, problem, source))
