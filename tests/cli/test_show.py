"""`neutrace show`: ``ovs-ofctl show`` (ofport numbers, read back by the sosreport parser) and
errors for a bridge or namespace that is not there, like ``--host``."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from neutrace.cli import app
from neutrace.syntax.ovsdump import parse_ofctl_show
from tests.support.paths import SEED_YAML


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["show", str(SEED_YAML), *args])
    return res.exit_code, res.stdout, res.stderr


def test_ofctl_show_maps_in_port_numbers_to_ports() -> None:
    code, out, _ = run("--host", "test-cmpt-02", "--bridge", "br-int")
    assert code == 0
    section = re.search(r"--- ovs-ofctl show br-int ---\n(.*?)\n---", out, re.S)
    assert section is not None
    show = parse_ofctl_show(section.group(1))
    numbers = {p.name: p.ofport for p in show.ports}
    assert numbers == {"int-br-ex": 1, "patch-tun": 2, "qvoaf305168-66": 3, "qvo1b17c0cc-9f": 4,
                       "br-int": 65534}
    assert show.by_name("qvo1b17c0cc-9f").mac == "02:00:00:a2:bf:8f"  # type: ignore[union-attr]


@pytest.mark.parametrize(("args", "head"), [
    (("--bridge", "nosuch"), "error: --bridge nosuch: no such OVS bridge"),
    (("--host", "test-cmpt-01", "--bridge", "br-nosuch"),
     "error: --bridge br-nosuch: no such OVS bridge on test-cmpt-01"),
    (("--namespace", "nosuch"), "error: --namespace nosuch: no such namespace"),
    (("--host", "nosuch"), "error: --host nosuch:"),
])
def test_a_name_that_is_not_there_is_an_error(args: tuple[str, ...], head: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == "" and err.startswith(head), err
    assert "(fix: use one of" in err
