"""Building `OvsBridge`s from Open vSwitch dumps (neutrace.importers.ovs_dumps): a sos-like folder
written offline, one produced by running sos's commands against a real ovs-vswitchd, explicit
files, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrace.backends.ovs_load import delete_bridges, dump_sos, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.errors import InputError, InputWarning, SyntaxParseError
from neutrace.importers.ovs_dumps import load_files, load_sos, write_sos
from neutrace.syntax.ovsdump import OFPP_LOCAL
from neutrace.verify.ofproto import observe_engine
from tests.support.neutron_like import CASES, bridges


def _ports(b: OvsBridge) -> list[tuple[object, ...]]:
    return sorted((p.name, p.ofport, p.type, p.tag, p.trunks, p.options) for p in b.ports
                  if p.ofport != OFPP_LOCAL)


def test_write_then_load_sos_round_trip(tmp_path: Path) -> None:
    model = bridges()
    write_sos(model, tmp_path)
    loaded = {b.name: b for b in load_sos(tmp_path)}
    for b in model:
        got = loaded[b.name]
        assert _ports(got) == _ports(b)
        assert got.flows == b.flows
        assert got.fail_mode == b.fail_mode
        local = got.port(b.name)
        assert local is not None and local.ofport == OFPP_LOCAL and local.type == "internal"


def test_load_sos_accepts_the_openvswitch_folder_itself(tmp_path: Path) -> None:
    folder = write_sos(bridges(), tmp_path)
    assert [b.name for b in load_sos(folder)] == [b.name for b in bridges()]


@pytest.mark.ovs
def test_sos_from_real_ovs(ovs_sandbox: OvsSandbox, tmp_path: Path) -> None:
    """sos's own commands run against real OVS; the imported bridges trace like the model."""
    model = bridges()
    load_bridges(ovs_sandbox, model)
    try:
        dump_sos(ovs_sandbox, [b.name for b in model], tmp_path)
    finally:
        delete_bridges(ovs_sandbox, [b.name for b in model])
    imported = load_sos(tmp_path)
    by_name = {b.name: b for b in imported}
    for b in model:
        got = by_name[b.name]
        assert _ports(got) == _ports(b)
        assert sorted((f.table, f.priority) for f in got.flows) == sorted(
            (f.table, f.priority) for f in b.flows)
        assert got.datapath_type == "dummy"
        assert all(p.mac for p in got.ports)
    ours, theirs = OpenFlowEngine(model), OpenFlowEngine(imported)
    for case in CASES:
        a = observe_engine(ours.run(case.bridge, case.in_port, case.packet, OpenFlowState()),
                           model)
        b = observe_engine(theirs.run(case.bridge, case.in_port, case.packet, OpenFlowState()),
                           imported)
        assert a.outputs == b.outputs, case.name
        assert [len(x[1]) for x in (a.visits[0], *a.visits[1])] == [
            len(x[1]) for x in (b.visits[0], *b.visits[1])], case.name


def test_sos_prefers_a_usable_flow_dump(tmp_path: Path) -> None:
    folder = write_sos(bridges(), tmp_path)
    plain = folder / "ovs-ofctl_dump-flows_br-int"
    of13 = folder / "ovs-ofctl_-O_OpenFlow13_dump-flows_br-int"
    of13.write_text(plain.read_text())
    plain.write_text("ovs-ofctl: br-int: version negotiation failed (we support version 0x01, "
                     "peer supports version 0x04)\n")
    br_int = next(b for b in load_sos(tmp_path) if b.name == "br-int")
    assert len(br_int.flows) == len(bridges()[0].flows)


def test_missing_ofport_names_the_fix(tmp_path: Path) -> None:
    folder = write_sos(bridges(), tmp_path)
    (folder / "ovs-ofctl_show_br-tun").unlink()
    with pytest.raises(InputError, match=r"bridge br-tun, port patch-int: no ofport .*"
                                         r"ovs-ofctl show br-tun"):
        load_sos(tmp_path)


def test_not_a_sosreport(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no `ovs-vsctl show` dump found"):
        load_sos(tmp_path)


def test_bad_flow_line_names_file_and_line(tmp_path: Path) -> None:
    folder = write_sos(bridges(), tmp_path)
    f = folder / "ovs-ofctl_dump-flows_br-ex"
    f.write_text(f.read_text() + " cookie=0x0, table=0, priority=1,nw_src=999.1.1.1,ip "
                 "actions=drop\n")
    with pytest.raises(SyntaxParseError) as info:
        load_sos(tmp_path)
    assert "ovs-ofctl_dump-flows_br-ex:4" in str(info.value)


def test_unknown_flow_syntax_is_kept_as_unsupported(tmp_path: Path) -> None:
    """A match field or action neutrace does not know loads as an unsupported flow (one
    warning per file); only a packet that hits it stops, with an error naming the flow."""
    from neutrace.packet import ipv4

    folder = write_sos(bridges(), tmp_path)
    f = folder / "ovs-ofctl_dump-flows_br-ex"
    f.write_text(" cookie=0x1, table=7, priority=9,ip,tun_metadata0=0x1 actions=drop\n"
                 " cookie=0x2, table=0, priority=9,ip,nw_dst=10.9.9.9 actions=push_mpls:0x8847\n"
                 " cookie=0x3, table=0, priority=1 actions=NORMAL\n")
    with pytest.warns(InputWarning, match="2 flow\\(s\\) use what neutrace does not simulate"):
        found = {b.name: b for b in load_sos(tmp_path)}
    br = found["br-ex"]
    odd = {fl.cookie: fl.unsupported for fl in br.flows if fl.unsupported}
    assert set(odd) == {1, 2} and "tun_metadata0" in odd[1] and "push_mpls" in odd[2]
    assert ("tun_metadata0", "0x1") not in br.flows[0].match and ("ip", "") in br.flows[0].match
    eng = OpenFlowEngine(list(found.values()))
    miss = eng.run("br-ex", "eth3", ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1",
                                         "10.0.0.2"), OpenFlowState())
    assert miss.exits  # NORMAL: the unsupported flows are never hit
    with pytest.raises(SyntaxParseError, match="hits a flow neutrace does not simulate: "
                       ".*push_mpls") as info:
        eng.run("br-ex", "eth3", ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1",
                                      "10.9.9.9"), OpenFlowState())
    assert "table=0, priority=9, cookie=0x2" in str(info.value)


def test_explicit_files_without_vsctl_show(tmp_path: Path) -> None:
    folder = write_sos(bridges(), tmp_path)
    (br,) = load_files(None, ofctl_show={"br-ex": folder / "ovs-ofctl_show_br-ex"},
                       flows={"br-ex": folder / "ovs-ofctl_dump-flows_br-ex"})
    assert br.name == "br-ex" and {p.name for p in br.ports} == {"phy-br-ex", "eth3", "br-ex"}
    assert br.port("phy-br-ex") is not None and br.port("phy-br-ex").type == ""  # type: ignore[union-attr]
    with pytest.raises(InputError, match="not in this `ovs-vsctl show`"):
        load_files(folder / "ovs-vsctl_-t_5_show", flows={"br-nope": folder /
                                                          "ovs-ofctl_dump-flows_br-ex"})
