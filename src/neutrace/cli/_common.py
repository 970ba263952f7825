"""What every ``neutrace`` command shares (layer 6): the output formats, the one way errors
reach the user, and the one way a command is registered.

- `Format`: the ``--format`` choices (a command that offers fewer says so with `Format.only`).
- `fail_on`: a context manager around a command's library calls; a `NeutraceError` becomes one
  ``error: ...`` line on stderr and the exit status of its class (`EXIT_STATUS`), never a
  traceback (``from None``).
- `Command`: a command module lists its commands as ``COMMANDS = (Command("trace", trace), ...)``
  and ``neutrace.cli`` registers them all.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer

from neutrace.errors import BackendError, InputError, NeutraceError, SimulationError


class Format(enum.StrEnum):
    """What a command prints: readable text, a one-line-per-hop summary, or JSON."""

    text = "text"
    summary = "summary"
    json = "json"

    def only(self, *allowed: Format) -> Format:
        """``self`` if the command offers it, else a usage error naming the choices."""
        if self not in allowed:
            raise typer.BadParameter(
                f"{self.value} is not offered here: use " + " or ".join(a.value for a in allowed),
                param_hint="--format")
        return self


# Exit statuses (README: "Exit statuses"); 0 is success and 1 a command's own "no" (e.g.
# --compare-ovs found differences); typer's usage errors exit 2 as input errors do.
EXIT_DIFFERENT = 1
EXIT_INPUT = 2
EXIT_BACKEND = 3
EXIT_INTERNAL = 4
EXIT_STATUS: tuple[tuple[type[NeutraceError], int], ...] = (
    (InputError, EXIT_INPUT),
    (BackendError, EXIT_BACKEND),
    (SimulationError, EXIT_INTERNAL),
    (NeutraceError, EXIT_INTERNAL),
)


def exit_status(exc: NeutraceError) -> int:
    """The exit status for ``exc``: 2 for what the user can fix, 3 for a real system that
    failed, 4 for an internal inconsistency (a bug to report)."""
    return next(code for cls, code in EXIT_STATUS if isinstance(exc, cls))


def error(message: str, status: int) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises what this returns."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(status)


@contextmanager
def fail_on() -> Iterator[None]:
    """Turn a `NeutraceError` raised inside into ``error: ...`` and its exit status."""
    try:
        yield
    except NeutraceError as exc:
        suffix = " (this is a bug in neutrace: please report it)" if (
            exit_status(exc) == EXIT_INTERNAL) else ""
        raise error(f"{exc}{suffix}", exit_status(exc)) from None


@dataclass(frozen=True)
class Command:
    """A sub-command: its name on the command line and the function typer wraps."""

    name: str
    function: Callable[..., Any]

    def register(self, app: typer.Typer) -> None:
        """Add the command to ``app``."""
        app.command(self.name)(self.function)
