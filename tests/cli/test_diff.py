"""`neutrace diff` from the command line, on generated captures (tests/support/capture_writer.py)
of the seed's hosts as the agents program them: no differences and exit status 0; a host written
with a fault: the fault, exit status 1, JSON; bad input: exit status 2. The same on real captures
with faults injected by real tools: tests/functional/real/test_diff_faults.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neutrace.agents import program
from neutrace.cli import app
from neutrace.topology import load
from tests.support.capture_writer import agent_ini, dhcp_files, write_capture
from tests.support.paths import SEED_YAML


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed-diff")
    model = load(SEED_YAML)
    for h in program(model).hosts:
        write_capture(h, folder / "clean" / h.name, agent_ini(model.host(h.name)),
                      dhcp_files(model, h.name))
        if h.name == "test-cmpt-02":  # qvo1b17c0cc-9f marked dead
            br = h.bridge("br-int")
            assert br is not None
            dead = replace(br, ports=tuple(replace(p, tag=4095) if p.name == "qvo1b17c0cc-9f"
                                           else p for p in br.ports))
            h = replace(h, ovs_bridges=tuple(dead if b.name == "br-int" else b
                                             for b in h.ovs_bridges))
        write_capture(h, folder / "dead" / h.name, agent_ini(model.host(h.name)),
                      dhcp_files(model, h.name))
    return folder


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["diff", *args])
    return res.exit_code, res.stdout, res.stderr


def test_no_differences(seed: Path) -> None:
    code, out, err = run(str(SEED_YAML), "--sos", str(seed / "clean"))
    assert code == 0, err
    assert out.splitlines()[0] == "no differences: the hosts hold what Neutron's agents would " \
                                  "program"
    assert "warning:" not in err


def test_a_dead_port(seed: Path) -> None:
    code, out, _ = run(str(SEED_YAML), "--sos", str(seed / "dead"))
    assert code == 1
    assert "test-cmpt-02: 1 difference(s)" in out and "qvo1b17c0cc-9f" in out
    code, out, _ = run(str(SEED_YAML), "--sos", str(seed / "dead"), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["schema_version"] == "1.0" and doc["differs"]
    facts = [d for h in doc["hosts"] for d in h["differences"]]
    assert [(d["kind"], d["port"], d["expected_tag"]) for d in facts] == [
        ("DeadPort", "qvo1b17c0cc-9f", 1)]


def test_verbose_shows_vlans_and_tolerances(seed: Path) -> None:
    code, out, _ = run(str(SEED_YAML), "--sos", str(seed / "clean"), "-v")
    assert code == 0 and "local VLANs" in out


@pytest.mark.parametrize(("args", "match"), [
    (["/nonexistent.yaml", "--sos", "/tmp"], "/nonexistent.yaml"),
    ([str(SEED_YAML), "--sos", "/nonexistent-capture"], "no such file"),
    ([str(SEED_YAML)], "--sos"),
    ([str(SEED_YAML), "--sos", "/tmp", "--format", "summary"], "summary is not offered"),
])
def test_errors(args: list[str], match: str) -> None:
    code, _, err = run(*args)
    assert code == 2 and match in err and "Traceback" not in err, err
