"""`neutrace reach`: the seed's pairs, serial and over two worker processes, formats, --expect."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from neutrace.app.reach import reach, select
from neutrace.app.session import seed_path
from neutrace.cli import app
from neutrace.topology import load

SEED = str(seed_path())


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["reach", SEED, *args])
    return res.exit_code, res.stdout, res.stderr


def test_selectors_pick_vms_and_outside_hosts() -> None:
    cloud = load(SEED)
    assert select(cloud, "all", "--from") == ["test-01", "test-02"]
    assert select(cloud, "outside", "--to") == [o.name for o in cloud.outside]
    assert select(cloud, "test-0*", "--from") == ["test-01", "test-02"]
    assert select(cloud, "network:public_net", "--from") == ["test-01"]


def test_two_workers_give_the_serial_results() -> None:
    serial = reach(SEED, "all", "*", "tcp", 22)
    assert {(p.source, p.destination) for p in serial} == {
        (s, d) for s in ("test-01", "test-02")
        for d in ("test-01", "test-02", *(o.name for o in load(SEED).outside)) if s != d}
    assert reach(SEED, "all", "*", "tcp", 22, workers=2) == serial


def test_outside_is_reached_and_a_denial_gives_its_reason() -> None:
    code, out, _ = run("--from", "all", "--to", "internet-host", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["reached"] == data["total"] == 2
    code, out, _ = run("--from", "test-02", "--to", "test-01", "--format", "csv")
    row = out.splitlines()[1].split(",")
    assert row[:5] == ["test-02", "test-01", "192.168.100.101", "no", "denied"]


def test_expect_fails_on_a_violation(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("- {from: test-01, to: internet-host, reach: true}\n"
                    "- {from: test-02, to: test-01, reach: false}\n")
    assert run("--from", "all", "--to", "*", "--expect", str(good))[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {from: test-02, to: test-01, reach: true}\n")
    code, _, err = run("--from", "all", "--to", "*", "--expect", str(bad))
    assert code == 1 and "expected test-02 -> test-01 to reach: it did not reach" in err


def test_a_selector_that_selects_nothing_is_a_usage_error() -> None:
    code, _, err = run("--from", "network:nope", "--to", "all")
    assert code == 2 and "no network 'nope'" in err
