"""`neutrace ofproto-trace` offline (no OVS needed): the Neutron-like bridges written as a
sosreport folder, traced from the command line; text and JSON kept as golden files, and the
command's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neutrace.cli import app
from neutrace.importers.ovs_dumps import write_sos
from neutrace.syntax.microflow import Microflow, format_microflow
from neutrace.syntax.ovsdump import parse_ofproto_trace
from tests.support.golden import check_golden
from tests.support.neutron_like import CASES, Case, bridges
from tests.support.paths import SEED_YAML

GOLDEN_CASES = ("arp-request-test-02", "arp-spoofed-test-02", "ipv4-unicast-test-01",
                "icmpv6-na-test-01", "tunnel-ingress-arp-from-router", "external-ingress-arp")


@pytest.fixture(scope="module")
def sos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sos")
    write_sos(bridges(), folder)
    return folder


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["ofproto-trace", *args])
    return res.exit_code, res.stdout, res.stderr


def _case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_text_golden(sos: Path, name: str) -> None:
    case = _case(name)
    code, out, err = run("--sos", str(sos), format_microflow(Microflow(case.in_port, case.packet)))
    assert code == 0, err
    check_golden(f"ofproto/{name}.txt", out)
    # what we print reads back as ofproto/trace text, starting in the right bridge
    parsed = parse_ofproto_trace(out, source=name)
    assert parsed.visits[0].bridge == case.bridge


def test_json_golden_and_schema(sos: Path) -> None:
    case = _case("arp-request-test-02")
    code, out, err = run("--sos", str(sos), "--format", "json",
                         format_microflow(Microflow(case.in_port, case.packet)))
    assert code == 0, err
    check_golden("ofproto/arp-request-test-02.json", out)
    data = json.loads(out)
    assert data["schema"] == "neutrace.ofproto-trace/1"
    assert data["bridge"] == "br-int" and data["in_port"] == case.in_port
    root = data["visits"][0]
    assert root["parent"] is None and root["tables"][0]["table"] == 0
    assert {v["bridge"] for v in data["visits"]} == {"br-int", "br-tun", "br-ex"}
    assert all(v["parent"] == 0 for v in data["visits"][1:])
    assert {(o["bridge"], o["port"]) for o in data["outputs"]} == {
        ("br-tun", "vxlan-c0a8780b"), ("br-tun", "vxlan-c0a87815"), ("br-int", "br-int")}
    tun = next(o for o in data["outputs"] if o["port"] == "vxlan-c0a8780b")
    assert tun["packet"]["tun_id"] == 0x10050 and tun["packet"]["tun_dst"] == "192.168.120.11"
    assert data["drops"][0]["bridge"] == "br-ex"


def test_number_in_port_with_bridge(sos: Path) -> None:
    case = _case("arp-request-test-02")
    by_name = run("--sos", str(sos), format_microflow(Microflow(case.in_port, case.packet)))
    by_number = run("--sos", str(sos), "--bridge", "br-int",
                    format_microflow(Microflow("6", case.packet)))
    assert by_number[0] == 0
    assert by_number[1] == by_name[1]


def test_flows_and_ports_files(sos: Path) -> None:
    d = sos / "sos_commands" / "openvswitch"
    case = _case("arp-request-test-02")
    args = ["--ports", str(d / "ovs-vsctl_-t_5_show")]
    for b in ("br-int", "br-tun", "br-ex"):
        args += ["--ports", str(d / f"ovs-ofctl_show_{b}"),
                 "--flows", f"{b}={d / f'ovs-ofctl_dump-flows_{b}'}"]
    code, out, err = run(*args, format_microflow(Microflow(case.in_port, case.packet)))
    assert code == 0, err
    assert out == run("--sos", str(sos), format_microflow(Microflow(case.in_port,
                                                                     case.packet)))[1]


def test_errors_golden(sos: Path, tmp_path: Path) -> None:
    d = sos / "sos_commands" / "openvswitch"
    lines = []
    for args in (
        ["--sos", str(sos), "dl_src=fa:16:3e:00:00:01,arp"],
        ["--sos", str(sos), "in_port=6,arp"],
        ["--sos", str(sos), "in_port=qvo-nope,arp"],
        ["--sos", str(sos), "in_port=qvo7d2f1e3a-9b,arp,nw_src=10.0.0.1x"],
        ["--sos", str(sos), "in_port=qvo7d2f1e3a-9b,arp,reg6=1"],
        ["--sos", str(tmp_path), "in_port=1,arp"],
        ["--flows", str(d / "ovs-ofctl_dump-flows_br-int"), "in_port=1,arp"],
        ["in_port=1,arp"],
    ):
        code, out, err = run(*args)
        assert code == 2 and out == ""
        lines.append(err.replace(str(sos), "SOS").replace(str(tmp_path), "TMP"))
    check_golden("ofproto/errors.txt", "".join(lines))


@pytest.mark.ovs
def test_compare_ovs(sos: Path, ovs_sandbox: object) -> None:
    """--compare-ovs runs real OVS (a sandbox of its own) and reports agreement; a sosreport whose
    flows the engine reads differently from OVS would exit 1."""
    case = _case("tunnel-ingress-arp-from-router")
    code, out, err = run("--sos", str(sos), "--compare-ovs",
                         format_microflow(Microflow(case.in_port, case.packet)))
    assert code == 0, out + err
    assert "=== real Open vSwitch (ofproto/trace" in out
    assert 'bridge("br-tun")' in out.split("=== real Open vSwitch")[1]
    assert "real Open vSwitch agrees" in out
    code, out, err = run("--sos", str(sos), "--compare-ovs", "--format", "json",
                         format_microflow(Microflow(case.in_port, case.packet)))
    assert code == 0, err
    data = json.loads(out)
    assert data["ovs"]["differences"] == [] and "Datapath actions" in data["ovs"]["text"]


def _layout(text: str) -> list[tuple[str, tuple[tuple[int, int], ...]]]:
    """Each bridge visit's tables with their columns relative to the visit's first table (the
    actions and notes, whose words differ between neutrace and OVS, left out), sorted: OVS floods
    to a VLAN's ports in its own hash order, so sibling bridges come in either order."""
    visits: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for line in parse_ofproto_trace(text).passes[0].lines:
        if line.table is not None:
            visits.setdefault((line.bridge, line.block), []).append((line.table, line.indent))
    return sorted((bridge, tuple((t, col - cols[0][1]) for t, col in cols))
                  for (bridge, _), cols in visits.items())


@pytest.mark.ovs
def test_layout_as_ovs_prints_it(sos: Path, ovs_sandbox: object) -> None:
    """Every case of the seed's bridges: the tables and bridges at the columns real
    ofproto/trace prints them (a last-action resubmit/goto_table flat, a patch peer under its
    output unless nothing follows), and the Flow: line's fields in OVS's order."""
    for case in CASES:
        code, out, err = run("--sos", str(sos), "--compare-ovs",
                             format_microflow(Microflow(case.in_port, case.packet)))
        assert code == 0, out + err
        ours, _, theirs = out.partition("=== real Open vSwitch")
        theirs = theirs.split("\n", 1)[1].split("=== real Open vSwitch")[0]
        assert _layout(ours) == _layout(theirs), case.name
        mine = ours.splitlines()[0].removeprefix("Flow: ").split(",")
        real = theirs.splitlines()[0].removeprefix("Flow: ").split(",")
        keys = [k.split("=")[0] for k in mine]
        real_keys = [k.split("=")[0] for k in real]
        assert keys[0] == real_keys[0], case.name  # the protocol first
        common = [k for k in real_keys if k in keys]
        assert [k for k in keys if k in common] == common, case.name


CT_FLOWS = (
    "table=0, priority=100,in_port=1 actions=load:1->NXM_NX_REG5[],load:3->NXM_NX_REG6[],"
    "resubmit(,71)\n"
    "table=71, priority=65,ip,reg5=1,in_port=1 actions=ct(table=72,zone=NXM_NX_REG6[0..15])\n"
    "table=72, priority=77,ct_state=+new-est,ip,reg5=1 actions=ct(commit,"
    "zone=NXM_NX_REG6[0..15]),resubmit(,73)\n"
    "table=73, priority=1 actions=output:2\n"
)


def test_ct_recirculation_golden(tmp_path: Path) -> None:
    """A firewall-style ct() recirculation, from --flows/--ports files."""
    flows = tmp_path / "flows"
    flows.write_text(CT_FLOWS)
    ports = tmp_path / "ofctl-show"
    ports.write_text(" 1(tap1): addr:fa:16:3e:00:00:01\n 2(tap2): addr:fa:16:3e:00:00:02\n"
                     " LOCAL(br-fw): addr:02:00:00:00:00:01\n")
    code, out, err = run("--flows", str(flows), "--ports", str(ports),
                         "in_port=tap1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,tcp,"
                         "nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_src=1000,tcp_dst=22")
    assert code == 0, err
    check_golden("ofproto/ct-recirculation.txt", out)
    assert "Output: br-fw tap2:" in out and "thaw" in out


SEED = SEED_YAML


@pytest.mark.skipif(not SEED.exists(), reason="the seed cloud is not written yet")
def test_cloud_host(tmp_path: Path) -> None:
    """--cloud/--host traces on the bridges the agents program; the same as from a sos folder
    written from those bridges."""
    from neutrace import topology
    from neutrace.agents import program

    hs = program(topology.load(str(SEED))).host("test-cmpt-02")
    assert hs is not None
    qvo = next(p for p in hs.ovs_bridges[0].ports if p.name.startswith("qvo") and p.tag == 1)
    mac = qvo.external_id("attached-mac")
    assert mac is not None
    flow = (f"in_port={qvo.name},dl_src={mac},dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,"
            f"arp_spa=192.168.111.4,arp_tpa=192.168.111.1,arp_sha={mac}")
    code, out, err = run("--cloud", str(SEED), "--host", "test-cmpt-02", flow)
    assert code == 0, err
    assert "Output: br-tun vxlan-" in out and "tun_id=0x10050" in out
    write_sos(hs.ovs_bridges, tmp_path)
    assert run("--sos", str(tmp_path), flow)[1] == out
    code, out, err = run("--cloud", str(SEED), flow)
    assert code == 2 and "add --host" in err


def _normal_sos(tmp_path: Path) -> Path:
    from neutrace.dataplane import Flow, OvsBridge, OvsPort

    br = OvsBridge("br0", ports=tuple(OvsPort(f"p{n}", n) for n in (1, 2, 3)),
                   flows=(Flow(0, 0, (), "NORMAL"),))
    write_sos([br], tmp_path / "sos")
    return tmp_path / "sos"


def test_bridge_positional_and_fdb(tmp_path: Path) -> None:
    """``BRIDGE MICROFLOW`` as ovs-appctl takes them; ``--fdb BR=FILE`` (fdb/show output)
    fills NORMAL's MAC table, and a sosreport's fdb dump is read the same way."""
    sos = _normal_sos(tmp_path)
    flow = "in_port=1,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:03,ip"
    code, cold, err = run("--sos", str(sos), "br0", flow)
    assert code == 0, err
    assert "flooding" in cold and "p2" in cold
    assert run("--sos", str(sos), "--bridge", "br0", flow)[1] == cold
    fdb = tmp_path / "fdb.txt"
    fdb.write_text(" port  VLAN  MAC                Age\n    3     0  50:54:00:00:00:03    1\n")
    code, warm, err = run("--sos", str(sos), "--fdb", f"br0={fdb}", "br0", flow)
    assert code == 0, err
    assert "forwarding to learned port" in warm and "Output: br0 p2" not in warm
    (sos / "sos_commands" / "openvswitch" / "ovs-appctl_fdb.show_br0").write_text(fdb.read_text())
    assert run("--sos", str(sos), "br0", flow)[1] == warm
    code, _, err = run("--sos", str(sos), "--bridge", "br1", "br0", flow)
    assert code == 2 and "--bridge br1: the bridge is also given as 'br0'" in err
    fdb.write_text("garbage\n")
    code, _, err = run("--sos", str(tmp_path / "sos"), "--fdb", f"br0={fdb}", "br0", flow)
    assert code == 2 and "not an fdb/show row" in err and "fix:" in err
