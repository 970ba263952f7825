"""`neutrace diagram`: files written per host, the walk drawn, and the command's errors."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from neutrace.cli import app
from tests.conftest import require
from tests.support.paths import SEED_YAML


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["diagram", *args])
    return res.exit_code, res.stdout, res.stderr


def test_the_issue_command_draws_the_compute_node_with_the_walk(tmp_path: Path) -> None:
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    out = tmp_path / "out.svg"
    code, stdout, _ = run(str(SEED_YAML), "--host", "test-cmpt-02", "--from", "test-02",
                          "--to", "203.0.113.10", "-o", str(out))
    assert code == 0, stdout
    svg = "".join(ET.parse(out).getroot().itertext())
    for device in ("qvo1b17c0cc-9f", "patch-tun", "vxlan-c0a8780b", "phy-br-ex", "test-ctrl-01",
                   "DROPPED", "VXLAN VNI 0x10050"):
        assert device in svg, device


def test_without_host_one_file_per_host(tmp_path: Path) -> None:
    code, stdout, _ = run(str(SEED_YAML), "-o", str(tmp_path / "seed.dot"))
    assert code == 0
    for host in ("test-ctrl-01", "test-cmpt-01", "test-cmpt-02"):
        assert (tmp_path / f"seed-{host}.dot").read_text().startswith("digraph")
        assert host in stdout


def test_errors(tmp_path: Path) -> None:
    code, _, err = run(str(SEED_YAML), "-o", str(tmp_path / "x.jpg"))
    assert code == 2 and ".svg, .png or .dot" in err
    code, _, err = run(str(SEED_YAML), "--host", "nosuch", "-o", str(tmp_path / "x.svg"))
    assert code == 2 and "--host nosuch" in err
    code, _, err = run(str(SEED_YAML), "--from", "test-02", "-o", str(tmp_path / "x.svg"))
    assert code == 2 and "--to" in err
    code, _, err = run(str(SEED_YAML), "--from", "nosuchvm", "--to", "203.0.113.10",
                       "-o", str(tmp_path / "x.svg"))
    assert code == 2 and err.startswith("error:")
