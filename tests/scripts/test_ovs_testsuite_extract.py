"""scripts/ovs_testsuite_extract.py: the m4 layer undone, the shell layer recorded (on a small
autotest text written here in OVS's style, not OVS's own)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import REPO


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ovs_testsuite_extract", REPO / "scripts" / "ovs_testsuite_extract.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


X = _module()

AT = r"""m4_define([TRACE_IT], [AT_CHECK([ovs-appctl ofproto/trace br0 "$1"], [0], [stdout])])

AT_SETUP([example - two ports])
OVS_VSWITCHD_START([dnl
   add-port br0 p1 -- set Interface p1 type=dummy ofport_request=1])
add_of_ports br0 2 3
AT_DATA([flows.txt], [dnl
in_port=1 actions=load:1->NXM_NX_REG0[[]],output:2
])
AT_CHECK([ovs-ofctl add-flows br0 flows.txt])
for dst in 2 3; do
    AT_CHECK([ovs-appctl ofproto/trace br0 "in_port=1,tcp,tp_dst=$dst"], [0], [dnl
Flow: ...
])
done
TRACE_IT([in_port=2,arp])
AT_CHECK([ovs-appctl ofproto/trace br0 in_port=9], [2], [ignore], [ignore])
OVS_VSWITCHD_STOP
AT_CLEANUP

AT_SETUP([example - no trace])
OVS_VSWITCHD_START
OVS_VSWITCHD_STOP
AT_CLEANUP
"""


def test_groups_and_quotes() -> None:
    m4 = X.M4()
    gs = X.groups(AT, m4)
    assert [g.title for g in gs] == ["example - two ports", "example - no trace"]
    assert gs[0].line == 3
    assert "TRACE_IT" in m4.macros
    assert X.unquote("[a [[b]] c]") == "a [[b]] c"
    assert X.strip_dnl("dnl\nx dnl y\nz") == "x z"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_extract_records_steps(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "example.at").write_text(AT)
    out = tmp_path / "out"
    assert X.main([str(tmp_path), "--commit", "0" * 40, "--out", str(out), "example.at"]) == 0
    import json

    data = json.loads((out / "example.json").read_text())
    assert data["source"]["file"] == "tests/example.at"
    (case,) = data["cases"]
    steps = case["steps"]
    ops = [s["op"] for s in steps]
    assert ops == ["vswitchd", "vsctl", "vsctl", "ofctl", "trace", "trace", "trace", "trace"]
    br0 = steps[1]["args"]
    assert br0[:3] == ["--", "add-br", "br0"]
    assert "ofport_request=1" in br0
    assert "ofport_request=3" in steps[2]["args"]
    assert steps[3]["files"] == {"flows.txt": "in_port=1 actions=load:1->NXM_NX_REG0[],output:2\n"}
    traces = [s for s in steps if s["op"] == "trace"]
    assert [t["flow"] for t in traces] == ["in_port=1,tcp,tp_dst=2", "in_port=1,tcp,tp_dst=3",
                                          "in_port=2,arp", "in_port=9"]
    assert [t["line"] for t in traces][:2] == [12, 12]
    assert traces[3]["status"] == "2"
    assert all(t["bridge"] == "br0" for t in traces)
