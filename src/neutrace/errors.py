"""The exception hierarchy of neutrace, drawn in one place (layer 0).

Every error a user can cause (a bad topology file, unknown flow syntax, a broken dump, a
command-line value that names nothing) is an `InputError` whose message names the source (a file,
or the command line), the place in it (a path, a line, an option) and the fix::

    * NeutraceError                   anything neutrace raises on purpose
      x InputError                    (source, where, problem, fix, line): the user can fix it
        + TopologyError               a topology file (the cloud description)
        + SyntaxParseError            ovs-ofctl flows, iptables-save, ovs-vsctl show, microflows...
        + CommandLineError            (option, value, problem, fix): an option's value
          + StartPointError           where a walk starts or goes: --from, --to (and the
                                      Walker's host/namespace/interface arguments)
      x SimulationError               an internal inconsistency of the simulator (a bug), never
                                      a drop and never the user's mistake
      x BackendError                  a real-system command (ovsdb-server, ovs-vswitchd,
                                      ovs-appctl, ovs-ofctl) failed
    * InputWarning(UserWarning)       partial input that still loads (warnings.warn): what is
                                      missing and what it costs

    internal (never escape the library):
      syntax.ofactions.ActionParseError(ValueError) --> SyntaxParseError, in syntax.ofctl
                                                        (parse_flow: the flow's file and line)
      syntax.offields.FieldValueError(ValueError)   --> ActionParseError (syntax.ofactions),
                                                        SyntaxParseError (syntax.ofctl,
                                                        engines.openflow's compile_match)

The low-level parsers raise the internal errors without knowing which file they read; the caller
that does know attaches the context (httpx's pattern). Who catches what::

    try:
        state = program(topology.load(path))
    except neutrace.errors.InputError as exc:   # the user's to fix: print it, exit 2
        print(f"error: {exc}")
    # SimulationError and BackendError are not the user's input: exit 4 and 3 in the CLI

The command line prints every `NeutraceError` as one ``error: ...`` line and exits with the
status of its class (`neutrace.cli._common.EXIT_STATUS`, README's table).
"""

from __future__ import annotations

# -- the base ---------------------------------------------------------------------------------


class NeutraceError(Exception):
    """Base of every error neutrace raises on purpose.

    A program that uses neutrace catches this one::

        try:
            conv = session.trace(walker, "vm-a", "10.0.0.5")
        except NeutraceError as exc:
            print(f"error: {exc}")
    """


# -- input errors: the user can fix them ------------------------------------------------------


class InputError(NeutraceError):
    """Bad user input: names the source, the place in it, what is wrong and how to fix it.

    ``source`` is a file name (or ``"<string>"``, ``"command line"``), ``where`` a path inside it
    such as ``networks[1].segmentation_id`` or ``line 12``, ``line`` the 1-based line and
    ``column`` the 1-based column when known.
    """

    def __init__(
        self,
        source: str,
        where: str,
        problem: str,
        fix: str = "",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        """Keep the parts (tests and the CLI read them) and render the message once."""
        self.source = source
        self.where = where
        self.problem = problem
        self.fix = fix
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        """``source[:line[:column]]: where: problem (fix: fix)``."""
        place = self.source
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
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


class CommandLineError(InputError):
    """A command-line option (or the library argument it becomes) has a value neutrace cannot
    use: ``option`` is the option's name (``--host``), ``value`` what was given (``""`` when the
    problem is a missing or conflicting option)."""

    def __init__(self, option: str, value: str, problem: str, fix: str = "") -> None:
        """``option value: problem (fix: fix)``; `InputError`'s source is "command line"."""
        self.option = option
        self.value = value
        super().__init__("command line", option, problem, fix)

    def _render(self) -> str:
        """``--to 999.1.1.1: problem (fix: ...)``: the option and the value first."""
        head = f"{self.option} {self.value}" if self.value else self.option
        text = f"{head}: {self.problem}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class StartPointError(CommandLineError):
    """Where a walk starts (``--from``) or goes (``--to``) names no VM, namespace, outside host,
    address, port or interface the cloud has, or one that cannot send."""


class InputWarning(UserWarning):
    """Partial real-world input that still loads (a sos folder without flows, undecodable bytes
    read in lossy mode): the message says what is missing and what that costs. Issued with
    `warnings.warn`; the command line prints it as one ``warning: ...`` line."""


# -- not the user's input ---------------------------------------------------------------------


class SimulationError(NeutraceError):
    """The simulator met a state it cannot walk (an internal inconsistency, not a drop and not
    a user's mistake: those are `InputError`s)."""


class BackendError(NeutraceError):
    """A real-system backend (OVS, namespaces, iptables) command failed."""
