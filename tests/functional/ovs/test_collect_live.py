"""`neutrace collect` on a real host: a private Open vSwitch and real namespaces
(tests/support/capture_lab.py), collected from inside the host's namespace as an operator would.
It writes sos's layout and a manifest, and it changes nothing it reads: the state read back with
the real tools is the same before and after."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrace.backends.ovs_sandbox import ovs_available
from tests.conftest import require
from tests.support.capture_lab import DHCP, PORT, ROUTER, MiniHost

pytestmark = [pytest.mark.ovs, pytest.mark.root]


@pytest.fixture(scope="module")
def host() -> Iterator[MiniHost]:
    require(ovs_available(), "Open vSwitch (openvswitch-switch)")
    require(os.geteuid() == 0, "root with iproute2 (network namespaces)")
    h = MiniHost().up()
    try:
        yield h
    finally:
        h.down()


def test_collect_changes_nothing_and_writes_sos_layout(host: MiniHost, tmp_path: Path) -> None:
    before = host.snapshot()
    proc = host.collect(tmp_path / "cap")
    after = host.snapshot()
    assert proc.returncode == 0, proc.stderr
    assert set(before) == set(after)
    for key in before:
        assert before[key] == after[key], f"collect changed {key}"
    cap = tmp_path / "cap"
    ovs = cap / "sos_commands" / "openvswitch"
    for name in ("ovs-vsctl_-t_5_show", "ovs-vsctl_-t_5_--format_json_list_Port",
                 "ovs-vsctl_-t_5_--format_json_list_Interface",
                 "ovs-ofctl_-O_OpenFlow13_dump-flows_br-int",
                 "ovs-ofctl_-O_OpenFlow13_show_br-tun",
                 "ovs-ofctl_-O_OpenFlow13_dump-groups_br-tun",
                 "ovs-appctl_fdb.show_br-int"):
        assert (ovs / name).stat().st_size > 0, name
    assert "group_id=7" in (ovs / "ovs-ofctl_-O_OpenFlow13_dump-groups_br-tun").read_text()
    assert "fa:16:3e:a6:01:bf" in (ovs / "ovs-appctl_fdb.show_br-int").read_text()
    net = cap / "sos_commands" / "networking"
    assert f"qbr{PORT}" in (net / "ip_-d_-j_address_show").read_text()
    r = net / "namespaces" / ROUTER
    assert "SNAT" in (r / f"ip_netns_exec_{ROUTER}_iptables-save").read_text()
    assert "NIPv4demo" in (r / f"ip_netns_exec_{ROUTER}_ipset_save").read_text()
    assert "10.77.0.0/16" in (r / f"ip_netns_exec_{ROUTER}_ip_-d_-j_route_show_table_all"
                              ).read_text()
    ct = cap / "sos_commands" / "conntrack" / f"ip_netns_exec_{ROUTER}_conntrack_-L_-o_extended"
    assert "icmp" in ct.read_text()
    man = json.loads((cap / "neutrace-collect.json").read_text())
    assert man["host"] == "test-cmpt-02"
    assert man["bridges"] == ["br-int", "br-tun"]
    assert man["namespaces"] == sorted([DHCP, ROUTER])
    failed = [c for c in man["commands"] if c["status"] not in (0, None)]
    assert not failed, failed
    assert all(c["argv"][0] != "sh" for c in man["commands"])


def test_collect_tar(host: MiniHost, tmp_path: Path) -> None:
    proc = host.collect(tmp_path / "cap2", "--tar")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("cap2.tar.xz")
    import tarfile
    with tarfile.open(tmp_path / "cap2.tar.xz") as t:
        names = t.getnames()
    assert "cap2/sos_commands/openvswitch/ovs-vsctl_-t_5_show" in names
