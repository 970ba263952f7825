"""Warm walks of imported clouds (neutrace.sim.learned, neutrace.app.capture): what the hosts had
learned when captured — NORMAL's MAC table (``ovs-appctl fdb/show``), a Linux bridge's FDB,
neighbours, conntrack — is where a warm walk starts; a cold one ignores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrace.agents import program
from neutrace.app import capture
from neutrace.dataplane import Connection, Learned, LearnedFdb, LearnedMac, LearnedNeighbour
from neutrace.engines.conntrack import CtTuple
from neutrace.sim.learned import state_from
from neutrace.topology import load
from neutrace.trace import FdbDecision, FdbStep
from tests.support.capture_writer import agent_ini, write_capture
from tests.support.paths import SEED_YAML

QR = "qr-466214fa-3d"


@pytest.fixture()
def seed(tmp_path: Path) -> Path:
    model = load(SEED_YAML)
    for h in program(model).hosts:
        write_capture(h, tmp_path / h.name, agent_ini(model.host(h.name)))
    return tmp_path


def test_state_from_learned() -> None:
    got = Learned(
        macs=(LearnedMac("br-int", 1, "fa:16:3e:00:00:01", "patch-tun"),),
        fdb=(LearnedFdb("", "qbr1", "fa:16:3e:00:00:02", "qvb1"),),
        neighbours=(LearnedNeighbour("qrouter-x", "qg-1", "192.168.100.1", "02:00:00:00:00:09"),),
        connections=(Connection("qrouter-x", 0, 1, ("10.0.0.5", "203.0.113.10", 0, 8),
                                ("203.0.113.10", "192.168.100.102", 0, 0), True),))
    st = state_from([("h1", got)])
    assert st.openflow.mac_table("h1", "br-int") == {(1, "fa:16:3e:00:00:01"): "patch-tun"}
    assert st.linux.fdb_of("h1", "qbr1") == {"fa:16:3e:00:00:02": "qvb1"}
    assert st.linux.neighbour_cache("h1", "qrouter-x")[("qg-1", "192.168.100.1")] == \
        "02:00:00:00:00:09"
    (entry,) = list(st.linux.conntrack_of("h1", "qrouter-x"))
    assert entry.src_nat and not entry.dst_nat and entry.seen_reply and entry.confirmed
    assert entry.orig == CtTuple(1, "10.0.0.5", "203.0.113.10", 0, 8)


def test_captured_mac_table_shapes_the_first_packet(seed: Path) -> None:
    """With the router's MAC in br-int's captured table, the first packet goes straight out of
    patch-tun as captured; cold, it floods (also into br-ex)."""
    imp = capture.load([seed], outside=SEED_YAML)
    ctrl = imp.state().host("test-ctrl-01")
    assert ctrl is not None
    qr_mac = next(i.mac for ns in ctrl.namespaces for i in ns.interfaces if i.name == QR)
    br_int = imp.state().host("test-cmpt-02").bridge("br-int")  # type: ignore[union-attr]
    assert br_int is not None and qr_mac
    ofport = br_int.port("patch-tun").ofport  # type: ignore[union-attr]
    fdb = seed / "test-cmpt-02" / "sos_commands" / "openvswitch" / "ovs-appctl_fdb.show_br-int"
    fdb.write_text(f" port  VLAN  MAC                Age\n{ofport:>5}     1  {qr_mac}    3\n")
    imp = capture.load([seed], outside=SEED_YAML)
    assert dict(imp.cloud.learned)["test-cmpt-02"].macs == (
        LearnedMac("br-int", 1, qr_mac, "patch-tun"),)

    def first_bridges(start: capture.Start) -> set[str]:
        conv = capture.trace(imp, "test-02", "203.0.113.10", start=start)
        return {h.element for hops, _ in conv.request.paths() for h in hops
                if h.host == "test-cmpt-02"}

    assert "br-ex" not in first_bridges(capture.Start.captured)
    assert "br-ex" in first_bridges(capture.Start.cold)
    assert any(isinstance(s, FdbStep) and (s.decision, s.port) == (FdbDecision.FORWARD,
                                                                   "patch-tun")
               for hops, _ in capture.trace(imp, "test-02", "203.0.113.10",
                                            start=capture.Start.captured).request.paths()
               for h in hops for s in h.steps)


def test_learned_flows_are_left_out_cold(seed: Path) -> None:
    """A flow br-tun's learn() made (table 20, priority 1, hard_timeout 300, the bridge's
    cookie) is in the warm state and not in the cold one."""
    path = seed / "test-cmpt-02" / "sos_commands" / "openvswitch" / (
        "ovs-ofctl_-O_OpenFlow13_dump-flows_br-tun")
    learn = next(ln for ln in path.read_text().splitlines() if "learn(" in ln)
    cookie = learn.split("cookie=")[1].split(",")[0] if "cookie=" in learn else "0x0"
    path.write_text(path.read_text() + f" cookie={cookie}, table=20, hard_timeout=300, "
                    "priority=1,vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:45:e0:d0 "
                    "actions=load:0->NXM_OF_VLAN_TCI[],load:0x10050->NXM_NX_TUN_ID[],output:2\n")
    imp = capture.load([seed])
    warm = imp.state(capture.Start.warm).host("test-cmpt-02").bridge("br-tun")  # type: ignore
    cold = imp.state(capture.Start.cold).host("test-cmpt-02").bridge("br-tun")  # type: ignore
    assert warm is not None and cold is not None
    assert len(warm.flows) == len(cold.flows) + 1
    assert not any(f.table == 20 and f.priority == 1 for f in cold.flows)
