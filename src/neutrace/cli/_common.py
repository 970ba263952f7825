"""What every ``neutrace`` command shares (layer 6): the output formats, the one way errors
reach the user, and the one way a command is registered.

- `Format`: the ``--format`` choices (a command that offers fewer says so with `Format.only`).
- `fail_on`: a context manager around a command's library calls; a `NeutraceError` becomes one
  ``error: ...`` line on stderr and the exit status of its class (`EXIT_STATUS`), never a
  traceback (``from None``).
- `Command`: a command module lists its commands as ``COMMANDS = (Command("trace", trace), ...)``
  and ``neutrace.cli`` registers them all.
- `NeutraceGroup`: the application's click group, so that typer's usage errors (a missing
  option, a bad value) come out in the same one-line ``error: ...`` style, with exit status 2,
  and never as a boxed panel.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

try:  # typer >= 0.20 carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on the system click
    from click import exceptions as click_errors  # type: ignore[no-redef]

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
    short_help: str = ""  # the line ``neutrace --help`` lists (else the docstring's first)

    def register(self, app: typer.Typer) -> None:
        """Add the command to ``app``."""
        app.command(self.name, short_help=self.short_help or None,
                    cls=NeutraceCommand)(self.function)


class NeutraceCommand(TyperCommand):
    """A sub-command whose usage line names its arguments as their metavars (``CLOUD``), the way
    man pages and ``--help`` of other tools do."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] CLOUD`` (an optional argument in brackets)."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class NeutraceGroup(TyperGroup):
    """The ``neutrace`` group: usage errors as ``error: ... (fix: ...)`` lines, exit status 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        """Run the command line; a click usage error becomes one ``error:`` line."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False,
                              windows_expand_args=windows_expand_args, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            typer.echo(exc.format_message())  # the help, as for --help
            if not standalone_mode:
                raise
            sys.exit(EXIT_INPUT)
        except click_errors.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "neutrace"
            typer.echo(f"error: {exc.format_message()} (fix: see {where} --help)", err=True)
            if not standalone_mode:
                raise
            sys.exit(EXIT_INPUT)
        except click_errors.ClickException as exc:
            typer.echo(f"error: {exc.format_message()}", err=True)
            if not standalone_mode:
                raise
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: interrupted", err=True)
            if not standalone_mode:
                raise
            sys.exit(130)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv
