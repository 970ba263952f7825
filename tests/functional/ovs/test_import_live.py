"""Importing real captures of a real host (tests/support/capture_lab.py: a private Open vSwitch
and real namespaces): the `neutrace collect` folder, and sosreports made with sos's own command
lines in both of sos's namespace layouts (tests/support/sos_lab.py), one with Sunbeam's snap
prefix. All three give the same host; what is broken on the host (a port OVS cannot open, a
bridge that refuses OpenFlow 1.0, a tunnel to a host that was not captured) is a warning naming
the file, and the walk stops only where the packet meets it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrace.app import capture
from neutrace.backends.ovs_sandbox import ovs_available
from neutrace.dataplane import NS_VM, HostState
from neutrace.importers.cloud import ImportedCloud, import_cloud
from neutrace.trace import INCOMPLETE
from tests.conftest import require
from tests.support.capture_lab import NET_ID, PORT, PORT_ID, ROUTER, VM_MAC, MiniHost
from tests.support.facts import gap_facts
from tests.support.sos_lab import sos_capture

pytestmark = [pytest.mark.ovs, pytest.mark.root]


@pytest.fixture(scope="module")
def caps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ImportedCloud]]:
    require(ovs_available(), "Open vSwitch (openvswitch-switch)")
    require(os.geteuid() == 0, "root with iproute2 (network namespaces)")
    base = tmp_path_factory.mktemp("captures")
    h = MiniHost().up()
    try:
        proc = h.collect(base / "collect")
        assert proc.returncode == 0, proc.stderr
        sos_capture(h, base / "sosreport-new" / "sosreport-test-cmpt-02-2024", "new")
        sos_capture(h, base / "sosreport-old" / "sosreport-test-cmpt-02-2024", "old",
                    prefix="openstack-hypervisor.")
    finally:
        h.down()
    yield {name: import_cloud([base / name]) for name in ("collect", "sosreport-new",
                                                           "sosreport-old")}


def _host(ic: ImportedCloud) -> HostState:
    (h,) = ic.warm.hosts
    return h


@pytest.mark.parametrize("kind", ["collect", "sosreport-new", "sosreport-old"])
def test_ovs_side(caps: dict[str, ImportedCloud], kind: str) -> None:
    ic = caps[kind]
    h = _host(ic)
    assert h.name == "test-cmpt-02" and h.tunnel_ip == "192.168.120.22"
    br_int, br_tun = h.bridge("br-int"), h.bridge("br-tun")
    assert br_int is not None and br_tun is not None
    qvo = br_int.port(f"qvo{PORT}")
    assert qvo is not None and qvo.ofport == 3 and qvo.tag == 1
    assert qvo.external_id("iface-id") == PORT_ID
    if kind == "collect":  # sos keeps no Port table
        assert dict(qvo.other_config)["net_uuid"] == NET_ID
    assert br_int.port("qvodeadbeef-00") is None
    assert any(d.problem.startswith("port qvodeadbeef-00 of br-int: ovs-vswitchd could not "
                                    "open it") for d in ic.diagnostics)
    assert len(br_tun.flows) == 7 and br_tun.protocols in ((), ("OpenFlow13", "OpenFlow14"))
    assert dict(ic.learned)["test-cmpt-02"].macs[0].port == f"qvo{PORT}"
    tunnel = h.gap("vxlan-c0a8780b", "tunnel")
    assert tunnel is not None and "192.168.120.11" in tunnel.problem


def test_sos_kept_the_version_negotiation_error(caps: dict[str, ImportedCloud],
                                                tmp_path: Path) -> None:
    """The plain dump of an OpenFlow 1.3-only bridge holds an error; the 1.3 dump was used."""
    ic = caps["sosreport-new"]
    assert len(_host(ic).bridge("br-tun").flows) == 7  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["collect", "sosreport-new", "sosreport-old"])
def test_linux_side(caps: dict[str, ImportedCloud], kind: str) -> None:
    h = _host(caps[kind])
    root = h.root
    qbr = root.interface(f"qbr{PORT}")
    assert qbr is not None and qbr.kind == "bridge"
    assert {i.name for i in root.bridge_ports(f"qbr{PORT}")} == {f"qvb{PORT}", f"tap{PORT}"}
    qvb = root.interface(f"qvb{PORT}")
    assert qvb is not None and (qvb.peer, qvb.peer_namespace) == (f"qvo{PORT}", "")
    eth1 = root.interface("eth1")
    assert eth1 is not None and (eth1.peer, eth1.peer_namespace) == ("qr-466214fa-3d", ROUTER)
    r = h.namespace(ROUTER)
    assert r is not None and r.kind == "qrouter" and r.ip_forward
    assert any(x.destination == "10.77.0.0/16" and x.table == "7" for x in r.routes)
    assert any(x.priority == 100 and x.table == "7" for x in r.rules)
    assert "SNAT --to-source 192.168.100.103" in r.iptables
    assert ("NIPv4demo" in r.ipsets) == (kind == "collect")  # sos collects no ipsets
    qr = r.interface("qr-466214fa-3d")
    assert qr is not None and (qr.peer, qr.peer_namespace) == ("eth1", "")
    vms = list(h.vms())
    assert len(vms) == 1
    vm = vms[0]
    assert vm.name == ("test-02" if kind == "collect" else "vm-6a1f8b2e")
    eth0 = vm.interface("eth0")
    assert eth0 is not None and eth0.mac == VM_MAC and eth0.peer == f"tap{PORT}"
    tap = root.interface(f"tap{PORT}")
    assert tap is not None and (tap.peer, tap.peer_namespace) == ("eth0", vm.name)
    if kind == "collect":
        assert eth0.addresses == ("192.168.111.4/24",)
        assert vm.routes[0].destination == "default" and vm.routes[0].gateway == "192.168.111.1"


def _rules(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


def test_the_three_captures_agree(caps: dict[str, ImportedCloud]) -> None:
    """Everything the text of a sosreport can say, it says as collect's JSON does."""
    a, b, c = (_host(caps[k]) for k in ("collect", "sosreport-new", "sosreport-old"))
    for other in (b, c):
        assert sorted(n.name for n in other.namespaces if n.kind != NS_VM) == sorted(
            n.name for n in a.namespaces if n.kind != NS_VM)
        for ns in a.namespaces:
            if ns.kind == NS_VM:
                continue
            theirs = other.namespace(ns.name)
            assert theirs is not None
            mine_itfs = {i.name: (i.kind, i.mac, i.addresses, i.master, i.peer)
                         for i in ns.interfaces}
            their_itfs = {i.name: (i.kind, i.mac, i.addresses, i.master, i.peer)
                          for i in theirs.interfaces}
            assert mine_itfs == their_itfs, ns.name
            assert set(ns.routes) == set(theirs.routes), ns.name
            assert _rules(ns.iptables) == _rules(theirs.iptables), ns.name
            assert ns.rules == theirs.rules, ns.name
        for br in a.ovs_bridges:
            assert br.flows == other.bridge(br.name).flows  # type: ignore[union-attr]


def test_walk_stops_where_the_capture_ends(caps: dict[str, ImportedCloud]) -> None:
    """From the VM, the walk crosses the real qbr's iptables, br-int, br-tun, and stops at the
    underlay: the tunnel leads to a host that was not captured, and it says which."""
    imp = capture.Imported(caps["collect"])
    conv = capture.trace(imp, "test-02", "192.168.111.1", start=capture.Start.cold)
    ends = [d for _, d in conv.request.paths()]
    incomplete = [d for d in ends if d.kind == INCOMPLETE]
    assert incomplete and incomplete[0].element == "underlay"
    assert "192.168.120.11" in gap_facts(incomplete[0])
    hops = [h.element for h, _ in [(hop, d) for hops, d in conv.request.paths() for hop in hops]]
    assert f"qbr{PORT}" in hops and "br-int" in hops and "br-tun" in hops
