"""The exception hierarchy of neutrace, drawn in one place (layer 0).

Every error a user can cause (bad topology file, unknown flow syntax, broken dump) is a
`NeutraceError` whose message names the source (file), the place in it (path or line) and the fix.
"""

from __future__ import annotations


class NeutraceError(Exception):
    """Base of every error neutrace raises on purpose."""


class InputError(NeutraceError):
    """Bad user input: names the source, the place in it, what is wrong and how to fix it.

    ``source`` is a file name (or ``"<string>"``), ``where`` a path inside it such as
    ``networks[1].segmentation_id`` or ``line 12``, ``line`` the 1-based line when known.
    """

    def __init__(
        self,
        source: str,
        where: str,
        problem: str,
        fix: str = "",
        line: int | None = None,
    ) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        self.fix = fix
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        place = self.source
        if self.line is not None:
            place += f":{self.line}"
        text = f"{place}: {self.where}: " if self.where else f"{place}: "
        text += self.problem
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class TopologyError(InputError):
    """A topology file (the cloud description) is invalid."""


class SyntaxParseError(InputError):
    """A text in one of the formats neutrace reads (ovs-ofctl flows, iptables-save, ...) is
    malformed or uses something neutrace does not understand."""


class SimulationError(NeutraceError):
    """The simulator met a state it cannot walk (an internal inconsistency, not a drop)."""


class BackendError(NeutraceError):
    """A real-system backend (OVS, namespaces, iptables) command failed."""
