"""Where a capture keeps what (neutrace.importers.layout): snap-prefixed OVS dumps, both of sos's
namespace layouts, OpenFlow 1.3+ dumps preferred over the plain one, the host's name from
wherever the report has it. The seed's hosts, written as captures and then rearranged, import
to the same state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from neutrace.agents import program
from neutrace.importers.cloud import import_cloud
from neutrace.importers.layout import Capture
from neutrace.topology import load
from tests.support.capture_writer import agent_ini, write_capture
from tests.support.paths import SEED_YAML


@pytest.fixture()
def host(tmp_path: Path) -> Path:
    model = load(SEED_YAML)
    h = program(model).host("test-ctrl-01")
    assert h is not None
    return write_capture(h, tmp_path / "cap", agent_ini(model.host("test-ctrl-01")))


@pytest.mark.parametrize("prefix", ["openstack-hypervisor.", "microovn."])
def test_snap_prefixed_ovs_dumps(host: Path, prefix: str) -> None:
    before = import_cloud([host]).warm
    ovs = host / "sos_commands" / "openvswitch"
    for f in list(ovs.iterdir()):
        f.rename(ovs / (prefix + f.name))
    assert import_cloud([host]).warm == before


def test_old_namespace_layout(host: Path) -> None:
    before = import_cloud([host]).warm
    net = host / "sos_commands" / "networking"
    for d in list((net / "namespaces").iterdir()):
        for f in d.iterdir():
            f.rename(net / f.name)
        d.rmdir()
    (net / "namespaces").rmdir()
    (host / "neutrace-collect.json").unlink()
    (host / "sos_commands" / "host").mkdir()
    (host / "sos_commands" / "host" / "hostname").write_text("test-ctrl-01\n")
    assert import_cloud([host]).warm == before


def test_openflow13_dump_preferred_and_errors_skipped(host: Path) -> None:
    ovs = host / "sos_commands" / "openvswitch"
    of13 = ovs / "ovs-ofctl_-O_OpenFlow13_dump-flows_br-int"
    good = of13.read_text()
    (ovs / "ovs-ofctl_dump-flows_br-int").write_text(" cookie=0x0, table=0, priority=1 "
                                                     "actions=drop\n")
    br = import_cloud([host]).warm.host("test-ctrl-01").bridge("br-int")  # type: ignore
    assert br is not None and len(br.flows) == len(good.splitlines())
    of13.write_text("2024-01-01T00:00:00Z|00001|vconn|WARN|unix:/var/run/openvswitch/br-int.mgmt"
                    ": version negotiation failed (we support version 0x04, peer supports "
                    "version 0x01)\novs-ofctl: br-int: failed to connect to socket (Broken "
                    "pipe)\n")
    br = import_cloud([host]).warm.host("test-ctrl-01").bridge("br-int")  # type: ignore
    assert br is not None and [f.priority for f in br.flows] == [1]


def test_hostname_sources(tmp_path: Path) -> None:
    (tmp_path / "sosreport-cmp-7-2024-05-02-abcdef" / "sos_commands").mkdir(parents=True)
    assert Capture(tmp_path / "sosreport-cmp-7-2024-05-02-abcdef").hostname == "cmp-7"
    top = tmp_path / "sosreport-cmp-7-2024-05-02-abcdef"
    (top / "hostname").write_text("compute-7.example.org\n")
    assert Capture(top).hostname == "compute-7.example.org"
    (top / "neutrace-collect.json").write_text('{"host": "c7"}')
    assert Capture(top).hostname == "c7"
    (top / "neutrace-collect.json").write_text("{broken")
    cap = Capture(top)
    assert cap.hostname == "compute-7.example.org"
    assert cap.notes and "not valid JSON" in cap.notes[0].problem


def test_namespaces_found_in_either_layout(tmp_path: Path) -> None:
    net = tmp_path / "sos_commands" / "networking"
    (net / "namespaces" / "qrouter-1").mkdir(parents=True)
    (net / "ip_netns_exec_qdhcp-2_ip_route_show_table_all").write_text("")
    (net / "ip_netns").write_text("qrouter-1 (id: 0)\nqdhcp-2 (id: 1)\nqrouter-3\n")
    assert Capture(tmp_path).namespaces() == ("qdhcp-2", "qrouter-1", "qrouter-3")
    shutil.rmtree(net / "namespaces")
    (net / "ip_netns").unlink()
    assert Capture(tmp_path).namespaces() == ("qdhcp-2",)
