"""Partial and messy captures (neutrace.importers + neutrace.sim.gaps): each missing or broken
piece is a warning naming the file and what it costs, the load goes on, and a walk stops —
``incomplete``, naming the file — only where the packet reaches the missing piece. The seed's
hosts are written as captures (tests/support/capture_writer.py) and then damaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrace.app import capture
from neutrace.trace import INCOMPLETE, Disposition
from tests.support.capture_writer import agent_ini, write_capture
from tests.support.facts import gap_facts
from tests.support.paths import SEED_YAML

ROUTER = "qrouter-c8aec0d9-3203-4bdb-9237-9818603f521f"


@pytest.fixture()
def seed(tmp_path: Path) -> Path:
    from neutrace.agents import program
    from neutrace.topology import load

    model = load(SEED_YAML)
    for h in program(model).hosts:
        write_capture(h, tmp_path / h.name, agent_ini(model.host(h.name)))
    return tmp_path


def walk(folder: Path) -> tuple[capture.Imported, list[Disposition]]:
    imp = capture.load([folder], outside=SEED_YAML)
    conv = capture.trace(imp, "test-02", "203.0.113.10", start=capture.Start.cold)
    return imp, [d for _, d in conv.request.paths()]


def ovs(folder: Path, host: str, name: str) -> Path:
    return folder / host / "sos_commands" / "openvswitch" / name


def test_complete_capture_has_no_gap(seed: Path) -> None:
    imp, ends = walk(seed)
    assert not any(h.gaps for h in imp.state().hosts)
    assert not any(d.kind == INCOMPLETE for d in ends)
    assert any(d.success for d in ends)


def test_missing_flow_dump_stops_at_that_bridge(seed: Path) -> None:
    path = ovs(seed, "test-cmpt-02", "ovs-ofctl_-O_OpenFlow13_dump-flows_br-tun")
    path.unlink()
    imp, ends = walk(seed)
    warn = [d for d in imp.cloud.diagnostics if "no flow dump for br-tun" in d.problem]
    assert warn and warn[0].source.endswith(path.name) and "stops there" in warn[0].cost
    stop = [d for d in ends if d.kind == INCOMPLETE]
    assert [(d.host, d.element) for d in stop] == [("test-cmpt-02", "br-tun")]
    assert path.name in gap_facts(stop[0])
    # the copy through br-ex still walks on to its own end
    assert any(d.element == "br-ex" and d.kind == "dropped" for d in ends)


def test_unreadable_flow_stops_only_in_its_table(seed: Path) -> None:
    path = ovs(seed, "test-ctrl-01", "ovs-ofctl_-O_OpenFlow13_dump-flows_br-ex")
    path.write_text(path.read_text() + " table=0, priority=77,bogus_field=1 actions=drop\n")
    n = len(path.read_text().splitlines())
    imp, ends = walk(seed)
    br_ex = imp.state().host("test-ctrl-01").bridge("br-ex")  # type: ignore[union-attr]
    assert br_ex is not None and all(f.priority != 77 for f in br_ex.flows) and br_ex.flows
    stop = [d for d in ends if d.kind == INCOMPLETE]
    assert stop and {(d.host, d.element) for d in stop} == {("test-ctrl-01", "br-ex")}
    assert f"{path.name}:{n}" in gap_facts(stop[0]) and "table 0" in gap_facts(stop[0])


def test_missing_root_iptables_stops_at_the_hybrid_bridge(seed: Path) -> None:
    (seed / "test-cmpt-02" / "sos_commands" / "networking" / "iptables-save").unlink()
    _, ends = walk(seed)
    stop = [d for d in ends if d.kind == INCOMPLETE]
    assert [(d.host, d.element) for d in stop] == [("test-cmpt-02", "qbr1b17c0cc-9f")]
    assert "sos_commands/networking/iptables-save" in gap_facts(stop[0])


def test_missing_router_routes_stop_at_the_router(seed: Path) -> None:
    ns = seed / "test-ctrl-01" / "sos_commands" / "networking" / "namespaces" / ROUTER
    (ns / f"ip_netns_exec_{ROUTER}_ip_-d_-j_route_show_table_all").unlink()
    _, ends = walk(seed)
    stop = [d for d in ends if d.kind == INCOMPLETE]
    assert [(d.host, d.element) for d in stop] == [("test-ctrl-01", ROUTER)]
    assert "IPv4 route dump" in gap_facts(stop[0])


def test_host_not_captured_stops_at_the_underlay(seed: Path) -> None:
    """The flood copy tunnelled to test-cmpt-01 stops at the underlay and names its tunnel IP;
    the copy to the router still reaches the outside host."""
    import shutil
    shutil.rmtree(seed / "test-cmpt-01")
    imp, ends = walk(seed)
    stop = [d for d in ends if d.kind == INCOMPLETE]
    assert stop and all(d.element == "underlay" for d in stop)
    assert all("192.168.120.21" in gap_facts(d) for d in stop)
    assert any(d.success for d in ends)


def test_port_in_error_is_left_out_with_a_warning(seed: Path) -> None:
    import json
    path = ovs(seed, "test-cmpt-02", "ovs-vsctl_-t_5_--format_json_list_Interface")
    doc = json.loads(path.read_text())
    heads = doc["headings"]
    for row in doc["data"]:
        if row[heads.index("name")] == "qvoaf305168-66":
            row[heads.index("ofport")] = -1
            row[heads.index("error")] = ("could not open network device qvoaf305168-66 (No "
                                         "such device)")
    path.write_text(json.dumps(doc))
    imp = capture.load([seed])
    br_int = imp.state().host("test-cmpt-02").bridge("br-int")  # type: ignore[union-attr]
    assert br_int is not None and br_int.port("qvoaf305168-66") is None
    warn = [d for d in imp.cloud.diagnostics if "qvoaf305168-66" in d.problem]
    assert warn and "No such device" in warn[0].problem and "left out" in warn[0].cost


def test_not_utf8_is_a_note_and_the_rest_is_read(seed: Path) -> None:
    path = seed / "test-cmpt-02" / "sos_commands" / "networking" / "iptables-save"
    path.write_bytes(path.read_bytes().replace(b"-A neutron-openvswi-FORWARD",
                                               b"# caf\xe9\n-A neutron-openvswi-FORWARD", 1))
    imp, ends = walk(seed)
    notes = [d for d in imp.cloud.diagnostics if "not UTF-8" in d.problem]
    assert notes and "iptables-save" in notes[0].source and "byte" in notes[0].problem
    assert any(d.success for d in ends)
