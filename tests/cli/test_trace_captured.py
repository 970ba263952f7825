"""`neutrace trace --sos` (and `neutrace collect`'s command line): the seed's hosts written as
captures (tests/support/capture_writer.py), traced from the command line with the outside hosts
of the seed's topology; warnings on stderr; the errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from neutrace.agents import program
from neutrace.cli import app
from neutrace.topology import load
from tests.support.capture_writer import agent_ini, write_capture
from tests.support.paths import SEED_YAML


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed-captures")
    model = load(SEED_YAML)
    for h in program(model).hosts:
        write_capture(h, folder / h.name, agent_ini(model.host(h.name)))
    return folder


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["trace", *args])
    return res.exit_code, res.stdout, res.stderr


def test_trace_a_folder_of_captures(seed: Path) -> None:
    code, out, err = run("--sos", str(seed), "--outside", str(SEED_YAML), "--from", "test-02",
                         "--to", "203.0.113.10", "--format", "summary", "--reply")
    assert code == 0, err
    assert "=> EXITED: left the cloud through eth3 of test-ctrl-01" in out
    assert "=> DELIVERED: delivered to VM test-02" in out
    assert "warning:" not in err


def test_each_host_given_alone_and_cold(seed: Path) -> None:
    hosts = [str(p) for p in sorted(seed.iterdir())]
    args = [a for h in hosts for a in ("--sos", h)]
    code, out, _ = run(*args, "--outside", str(SEED_YAML), "--from", "test-02", "--to",
                       "203.0.113.10", "--cold", "--format", "summary")
    assert code == 0
    assert "no learned MAC" not in out and "+ copy out int-br-ex" in out  # floods: cold


def test_warnings_go_to_stderr(seed: Path, tmp_path: Path) -> None:
    import shutil
    copy = tmp_path / "caps"
    shutil.copytree(seed, copy)
    (copy / "test-cmpt-02" / "sos_commands" / "networking" / "iptables-save").unlink()
    code, out, err = run("--sos", str(copy), "--outside", str(SEED_YAML), "--from", "test-02",
                         "--to", "203.0.113.10", "--format", "summary")
    assert code == 1  # it did not get through: the walk stops where the capture ends
    assert "warning: test-cmpt-02:" in err and "iptables-save" in err
    assert "=> INCOMPLETE" in out


@pytest.mark.parametrize(("args", "code", "match"), [
    (["--sos", "/nonexistent-capture", "--from", "a", "--to", "1.2.3.4"], 2, "no such file"),
    (["--from", "a", "--to", "1.2.3.4"], 2, "give a topology file, or --sos"),
    (["--sos", "/tmp", "--from", "a"], 2, "a walk needs a destination"),
])
def test_errors(args: list[str], code: int, match: str) -> None:
    got, _, err = run(*args)
    assert got == code and match in err
