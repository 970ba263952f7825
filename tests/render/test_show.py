"""`neutrace show` and its renderer: golden text per host, filters, JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import neutrace.topology
from neutrace.agents import program
from neutrace.cli import app
from neutrace.model import Cloud
from neutrace.render.show import cloud_text, dump_flows, ip_route, ovs_vsctl_show
from neutrace.render.state_json import host_from_json
from tests.support.golden import check_golden
from tests.support.paths import SEED_YAML
from tests.support.seed_model import ROUTER, seed_cloud

HOSTS = ("test-ctrl-01", "test-cmpt-01", "test-cmpt-02")




@pytest.mark.parametrize("host", HOSTS)
def test_show_golden(host: str) -> None:
    state = program(neutrace.topology.load(str(SEED_YAML)))
    check_golden(f"show/seed-{host}.txt", cloud_text(state, host=host))


def test_show_external_golden() -> None:
    state = program(neutrace.topology.load(str(SEED_YAML)))
    text = "".join(cloud_text(state, namespace=n.name) for n in state.external)
    check_golden("show/seed-external.txt", text)


def test_renderers_cover_the_state() -> None:
    state = program(seed_cloud())
    ctrl = state.host("test-ctrl-01")
    assert ctrl is not None
    br_tun = ctrl.bridge("br-tun")
    assert br_tun is not None
    flows = dump_flows(br_tun)
    assert flows.count("\n") == len(br_tun.flows)
    assert (" table=4, priority=1,tun_id=0x10050 "
            "actions=push_vlan:0x8100,set_field:4097->vlan_vid,goto_table:10") in flows
    vsctl = ovs_vsctl_show(ctrl.ovs_bridges)
    assert "        Port qr-466214fa-3d\n            tag: 1\n" in vsctl
    ns = ctrl.namespace(f"qrouter-{ROUTER}")
    assert ns is not None
    assert ip_route(ns).splitlines()[0] == "default via 192.168.100.1 dev qg-169d638e-0e"


@pytest.fixture()
def seed_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the YAML loader exists, `neutrace show` loads the seed cloud built in Python."""
    def load(path: str) -> Cloud:
        assert Path(path).name == "cloud.yaml"
        return seed_cloud()
    monkeypatch.setattr(neutrace.topology, "load", load, raising=False)


def test_cli_show_text_filters(seed_loader: None, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["show", str(tmp_path / "cloud.yaml"), "--host", "test-cmpt-02",
                                 "--bridge", "br-ex"])
    assert result.exit_code == 0, result.output
    assert "ovs-ofctl -O OpenFlow13 dump-flows br-ex" in result.output
    assert "dump-flows br-int" not in result.output
    assert "priority=4,in_port=2,dl_vlan=2 actions=pop_vlan,NORMAL" in result.output
    result = runner.invoke(app, ["show", str(tmp_path / "cloud.yaml"), "--host", "test-ctrl-01",
                                 "--namespace", f"qrouter-{ROUTER}"])
    assert result.exit_code == 0, result.output
    assert "-A neutron-l3-agent-float-snat -s 192.168.111.4/32" in result.output
    assert "ovs-vsctl show" not in result.output


def test_cli_show_json_is_the_host_state(seed_loader: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["show", str(tmp_path / "cloud.yaml"), "--host",
                                      "test-cmpt-02", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["name"] == "test-cmpt-02"
    assert host_from_json(result.output) == program(seed_cloud()).host("test-cmpt-02")


def test_cli_show_unknown_host(seed_loader: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["show", str(tmp_path / "cloud.yaml"), "--host", "nope"])
    assert result.exit_code == 2
    assert "--host nope: " in result.output and "no such host" in result.output
    assert "use one of test-ctrl-01" in result.output


def test_cli_show_the_real_seed_file() -> None:
    result = CliRunner().invoke(app, ["show", str(SEED_YAML), "--host", "test-ctrl-01",
                                      "--bridge", "br-tun"])
    assert result.exit_code == 0, result.output
    assert "tun_id=0x10050 actions=push_vlan:0x8100,set_field:4097->vlan_vid,goto_table:10" in (
        result.output)


def test_cli_show_openflow10_spelling_matches_the_blog() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["show", str(SEED_YAML), "--host", "test-cmpt-02", "--bridge",
                                 "br-tun", "--openflow10"])
    assert result.exit_code == 0, result.output
    assert "--- ovs-ofctl dump-flows br-tun ---" in result.output
    assert ("priority=1,dl_vlan=1 actions=strip_vlan,load:0x10050->NXM_NX_TUN_ID[],"
            "output:2,output:3") in result.output
    result = runner.invoke(app, ["show", str(SEED_YAML), "--host", "test-ctrl-01", "--bridge",
                                 "br-tun", "--openflow10"])
    assert "priority=1,tun_id=0x10050 actions=mod_vlan_vid:1,resubmit(,10)" in result.output
    assert "goto_table" not in result.output
