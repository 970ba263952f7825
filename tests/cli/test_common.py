"""The CLI's seam (`neutrace.cli._common`): one ``error: ...`` line and the exit status of the
error's class, the cause suppressed; one `Format`."""

from __future__ import annotations

import pytest
import typer

from neutrace.cli._common import (
    EXIT_BACKEND,
    EXIT_INPUT,
    EXIT_INTERNAL,
    Format,
    exit_status,
    fail_on,
)
from neutrace.errors import (
    BackendError,
    CommandLineError,
    NeutraceError,
    SimulationError,
    StartPointError,
    TopologyError,
)


@pytest.mark.parametrize(("exc", "status"), [
    (TopologyError("cloud.yaml", "networks[0]", "bad", "fix it"), EXIT_INPUT),
    (StartPointError("--from", "x", "no such VM", "use vm-a"), EXIT_INPUT),
    (CommandLineError("--proto", "sctp", "unknown protocol"), EXIT_INPUT),
    (BackendError("ovs-vswitchd died"), EXIT_BACKEND),
    (SimulationError("two ports with one ofport"), EXIT_INTERNAL),
    (NeutraceError("anything else"), EXIT_INTERNAL),
])
def test_fail_on_prints_one_line_and_exits_with_the_class_status(
        exc: NeutraceError, status: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(exc) == status
    with pytest.raises(typer.Exit) as info, fail_on():
        raise exc
    assert info.value.exit_code == status
    assert info.value.__cause__ is None and info.value.__suppress_context__
    err = capsys.readouterr().err
    assert err.startswith(f"error: {exc}") and err.count("\n") == 1
    assert ("this is a bug in neutrace" in err) == (status == EXIT_INTERNAL)


def test_command_line_error_names_option_and_value() -> None:
    exc = StartPointError("--to", "999.1.1.1", "the destination is not a valid IPv4 address",
                          "known VMs: a, b")
    assert str(exc) == ("--to 999.1.1.1: the destination is not a valid IPv4 address "
                        "(fix: known VMs: a, b)")
    assert (exc.source, exc.where, exc.option, exc.value) == (
        "command line", "--to", "--to", "999.1.1.1")
    assert str(CommandLineError("--host", "", "several hosts", "add --host")) == (
        "--host: several hosts (fix: add --host)")


def test_format_only() -> None:
    assert Format.json.only(Format.text, Format.json) is Format.json
    with pytest.raises(typer.BadParameter, match="use text or json"):
        Format.summary.only(Format.text, Format.json)
