"""The command line as a new user meets it: ``--version``, ``-h``, help texts that are whole
(no cut descriptions, no ``<bool>``/``<str>`` tags, no ``{cloud}`` usage) and one error style
(``error: ... (fix: ...)``, exit status 2) for typer's own usage errors too — no boxed panels."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from neutrace import __version__
from neutrace.cli import app
from tests.support.paths import SEED_YAML

COMMANDS = ("show", "ofproto-trace", "trace", "demo", "diagram", "serve", "collect", "version")


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_version() -> None:
    assert invoke("--version") == (0, f"neutrace {__version__}\n", "")
    assert invoke("version")[1] == f"neutrace {__version__}\n"


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_help_is_whole_and_plain(command: tuple[str, ...]) -> None:
    code, short, _ = invoke(*command, "-h")
    assert code == 0 and short == invoke(*command, "--help")[1]
    assert "<bool>" not in short and "<str>" not in short and "<int>" not in short
    assert "{" not in short.splitlines()[0], short.splitlines()[0]
    assert not any(ch in short for ch in "╭╰│"), "a rich panel"
    assert "..." not in short.replace("COMMAND [ARGS]...", ""), "a cut description"


def test_the_command_list_names_every_command() -> None:
    _, out, _ = invoke("-h")
    for command in COMMANDS:
        assert f"  {command} " in out


@pytest.mark.parametrize(("args", "head"), [
    (("trace", str(SEED_YAML)), "error: Missing option '--from'."),
    (("trace", str(SEED_YAML), "--from", "test-02", "--to", "x", "--dport", "http"),
     "error: Invalid value for '--dport'"),
    (("nosuch",), "error: No such command 'nosuch'."),
    (("show",), "error: Missing argument 'CLOUD'."),
])
def test_usage_errors_are_one_error_line(args: tuple[str, ...], head: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2 and out == ""
    assert err.startswith(head) and "(fix: see neutrace" in err, err
    assert err.count("\n") == 1 and not any(ch in err for ch in "╭╰│")
