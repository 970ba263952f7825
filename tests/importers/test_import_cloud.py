"""Importing whole hosts (neutrace.importers.cloud) from generated captures: every example
cloud's hosts, as the agents program them, written in collect's layout with the syntax
formatters (tests/support/capture_writer.py; VMs as libvirt domain XML), then imported: the
state comes back the same (OVS ports and flows, namespaces, interfaces and their wiring, routes,
rules, netfilter), the seed's walks come back hop for hop, and the learned state is read.

The real captures (real OVS and namespaces, Neutron's own agents) are tested in
tests/functional/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from neutrace.agents import program
from neutrace.app import capture, session
from neutrace.dataplane import CloudState, HostState, Namespace
from neutrace.importers.cloud import import_cloud
from neutrace.render.walk import walk_summary
from neutrace.syntax.ovsdump import OFPP_LOCAL
from neutrace.syntax.sysctl import forwarding_sysctls
from neutrace.topology import load
from tests.support.capture_writer import agent_ini, dhcp_files, write_capture
from tests.support.paths import EXAMPLES, SEED_YAML

CLOUDS = sorted(p.parent.name for p in EXAMPLES.glob("*/cloud.yaml"))


def captures(path: Path, folder: Path) -> CloudState:
    """Write every host of the cloud at ``path`` as a capture under ``folder``."""
    model = load(path)
    state = program(model)
    for h in state.hosts:
        write_capture(h, folder / h.name, agent_ini(model.host(h.name)),
                      dhcp_files(model, h.name))
    return state


def _ns(ns: Namespace) -> Namespace:
    """The namespace with its forwarding sysctls only (``net.ipv4.ip_forward`` absent is the
    kernel's 0: a root namespace no driver set a sysctl in, e.g. with the openvswitch firewall,
    is captured as ``ip_forward = 0``) and its IPv4 routes before its IPv6 ones (``ip route``
    and ``ip -6 route`` list them apart)."""
    kept = dict(forwarding_sysctls(ns.sysctls))
    kept.setdefault("net.ipv4.ip_forward", "0")
    routes = sorted(ns.routes, key=lambda r: ":" in (r.gateway or r.source or r.destination))
    return dataclasses.replace(ns, sysctls=tuple(sorted(kept.items())), routes=tuple(routes))


def _ports(h: HostState) -> dict[tuple[str, str], object]:
    return {(b.name, p.name): dataclasses.replace(p, mac=None) for b in h.ovs_bridges
            for p in b.ports if p.ofport != OFPP_LOCAL}  # LOCAL: implicit in the agents' state


def _segments_as_physnets(path: Path, state: CloudState) -> CloudState:
    """A capture names a NIC's segment after the physical network its bridge is mapped to (a
    topology may name the wire otherwise)."""
    model = load(path)
    hosts = []
    for h in state.hosts:
        mh = model.host(h.name)
        physnet = {nic.name: next(p for p, br in mh.bridge_mappings if br == nic.bridge)
                   for nic in mh.physical_nics}
        hosts.append(dataclasses.replace(h, namespaces=tuple(
            dataclasses.replace(ns, interfaces=tuple(
                dataclasses.replace(i, segment=physnet[i.name]) if i.name in physnet and
                ns.name == "" else i for i in ns.interfaces)) for ns in h.namespaces)))
    return dataclasses.replace(state, hosts=tuple(hosts))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_hosts_come_back(cloud: str, tmp_path: Path) -> None:
    path = EXAMPLES / cloud / "cloud.yaml"
    expected = _segments_as_physnets(path, captures(path, tmp_path))
    imported = import_cloud([tmp_path])
    assert not [d for d in imported.diagnostics if d.level == "warning"]
    for exp in expected.hosts:
        got = imported.warm.host(exp.name)
        assert got is not None and got.tunnel_ip == exp.tunnel_ip and not got.gaps
        assert _ports(got) == _ports(exp)
        for b in exp.ovs_bridges:
            gb = got.bridge(b.name)
            assert gb is not None and gb.flows == b.flows, b.name
            assert (gb.fail_mode, gb.datapath_type, gb.protocols) == (
                b.fail_mode, b.datapath_type, b.protocols)
        for ns in exp.namespaces:
            gns = got.namespace(ns.name)
            assert gns is not None, ns.name
            assert _ns(gns) == _ns(ns), (exp.name, ns.name)


def _names(state: CloudState) -> dict[str, str]:
    return {k.partition(":")[2]: v for k, v in state.metadata if k.startswith("network:")}


@pytest.mark.parametrize("start", ["cold", "warm"])
def test_seed_walks_come_back(start: str, tmp_path: Path) -> None:
    """test-02 -> 203.0.113.10 on the imported seed walks as the demo does, hop for hop, with
    the same dispositions (network names given, as OVS knows only their ids)."""
    state = captures(SEED_YAML, tmp_path)
    imp = capture.load([tmp_path], outside=SEED_YAML, names=_names(state))
    conv = capture.trace(imp, "test-02", "203.0.113.10", start=capture.Start(start),
                         reply=True)
    assert conv.reply is not None
    got = walk_summary(conv.request) + "\n" + walk_summary(conv.reply)
    # the agents' walk (tests/golden/walk/seed-test-02-*.summary.txt holds its words)
    sim = session.trace(session.walker(SEED_YAML), "test-02", "203.0.113.10",
                        warm=start == "warm", reply=True)
    assert sim.reply is not None
    assert got == walk_summary(sim.request) + "\n" + walk_summary(sim.reply)


def test_start_points(tmp_path: Path) -> None:
    """By VM name, Neutron port id, MAC, IP, tap and qvo device."""
    captures(SEED_YAML, tmp_path)
    imp = capture.load([tmp_path], outside=SEED_YAML)
    w = imp.walker()
    from neutrace.sim.scenarios import find_endpoint
    vm = w.find_namespace("test-02")
    assert vm is not None
    host, ns = vm
    port = next(p for b in imp.state().host(host).ovs_bridges for p in b.ports  # type: ignore
                if p.name.startswith("qvo1b17"))
    pid = port.external_id("iface-id")
    mac = port.external_id("attached-mac")
    assert pid and mac
    for spec in ("test-02", pid, mac, "192.168.111.4", "tap1b17c0cc-9f", "qvo1b17c0cc-9f",
                 mac.upper()):
        ep = find_endpoint(w, spec, toward="203.0.113.10")
        assert (ep.host, ep.namespace, ep.ip) == ("test-cmpt-02", "test-02", "192.168.111.4"), spec


def test_archive_and_folder_of_captures(tmp_path: Path) -> None:
    import tarfile
    state = captures(SEED_YAML, tmp_path / "caps")
    packed = tmp_path / "packed"
    packed.mkdir()
    for h in state.hosts:
        with tarfile.open(packed / f"{h.name}.tar.xz", "w:xz") as t:
            t.add(tmp_path / "caps" / h.name, arcname=f"sosreport-{h.name}")
    a = import_cloud([packed])
    b = import_cloud(sorted(tmp_path / "caps" / h.name for h in state.hosts))
    assert [h.name for h in a.warm.hosts] == [h.name for h in b.warm.hosts]
    assert a.warm.hosts == b.warm.hosts
    assert not list(Path("/tmp").glob("nt-import-*/sosreport-test-ctrl-01"))  # cleaned up
