"""The real backend's plan, without root: every example cloud plans into namespaces of the run's
prefix only, with safe words in every ip command; names that cannot reach the kernel are
refused before anything runs; the run record round-trips."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from neutrace.app.session import cloud_state
from neutrace.backends.real import record
from neutrace.backends.real.names import (
    KernelNames,
    NameError_,
    check_ifname,
    check_prefix,
    new_prefix,
    owned_by,
)
from neutrace.backends.real.plan import _sysctl_key, all_words, plan_cloud
from neutrace.errors import InputError
from tests.support.paths import EXAMPLES

CLOUDS = sorted(p.parent.name for p in EXAMPLES.glob("*/cloud.yaml"))


@pytest.mark.parametrize("name", CLOUDS)
def test_every_example_plans_inside_its_own_namespaces(name: str) -> None:
    state = cloud_state(EXAMPLES / name / "cloud.yaml")
    names = KernelNames(new_prefix())
    plan = plan_cloud(state, names)
    assert all(owned_by(names.prefix, n) for n in plan.netns_names)
    assert len(set(plan.netns_names)) == len(plan.netns_names)
    for w in all_words(plan):
        assert w and not any(c.isspace() for c in w) and '"' not in w, w
    for ns in plan.namespaces:
        for words in ns.create:
            if "netns" in words:  # a cross-namespace veth lands in a namespace of the run
                assert owned_by(names.prefix, words[words.index("netns") + 1])
        for itf, target in ns.moves:
            assert owned_by(names.prefix, target) and len(itf) <= 15
    # every VM and host has its namespace; each host with tunnel ports has its br-phy
    assert {vm for vm, _, _ in plan.vms} == {ns.name for h in state.hosts for ns in h.vms()}
    for hp in plan.hosts:
        tunnels = any(p.is_tunnel for b in hp.bridges for p in b.ports)
        assert (hp.phy is not None) == tunnels


def test_a_vlan_attachment_makes_its_segment_an_ovs_access_port() -> None:
    state = cloud_state(EXAMPLES / "vlan-provider" / "cloud.yaml")
    plan = plan_cloud(state, KernelNames(new_prefix()))
    (bridge,) = plan.wire_bridges
    tags = {p.tag for p in bridge.ports}
    assert tags == {None, 101}


@pytest.mark.parametrize("bad", ["eth0-much-too-long", "eth 0", "a/b", "..", "-x"])
def test_unsafe_interface_names_are_refused(bad: str) -> None:
    with pytest.raises(NameError_):
        check_ifname(bad, "here")
    state = cloud_state(EXAMPLES / "eastwest" / "cloud.yaml")
    host = state.hosts[1]
    vm = next(host.vms())
    bad_vm = replace(vm, interfaces=tuple(replace(i, name=bad) if i.name == "eth0" else i
                                          for i in vm.interfaces))
    bad_state = replace(state, hosts=(state.hosts[0], replace(host, namespaces=tuple(
        bad_vm if n is vm else n for n in host.namespaces)), *state.hosts[2:]))
    with pytest.raises(InputError) as err:
        plan_cloud(bad_state, KernelNames(new_prefix()))
    assert "cmp-01" in str(err.value) and "rename" in str(err.value)


def test_a_host_name_that_is_no_namespace_name_is_refused() -> None:
    state = cloud_state(EXAMPLES / "eastwest" / "cloud.yaml")
    bad = replace(state, hosts=(replace(state.hosts[0], name="net/01"), *state.hosts[1:]))
    with pytest.raises(InputError, match="net/01"):
        plan_cloud(bad, KernelNames(new_prefix()))


def test_prefixes() -> None:
    p = new_prefix()
    assert re.match(r"^nt-[0-9a-f]{6}-$", p) and check_prefix(p) == p
    assert owned_by(p, p + "x") and not owned_by(p, "nt-other-x") and not owned_by("nt-", "nt-a")
    with pytest.raises(InputError):
        check_prefix("nt-")


def test_sysctl_keys_with_dotted_devices() -> None:
    assert _sysctl_key("net.ipv4.conf.eth0.101.forwarding") == "net.ipv4.conf.eth0/101.forwarding"
    assert _sysctl_key("net.ipv4.conf.qg-1.forwarding") == "net.ipv4.conf.qg-1.forwarding"
    assert _sysctl_key("net.ipv4.ip_forward") == "net.ipv4.ip_forward"


def test_run_record_round_trips(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUTRACE_RUN_DIR", str(tmp_path))
    rec = record.RunRecord("r1", new_prefix(), str(record.run_dir("r1")), cloud="c",
                           namespaces=("a", "b"), hosts=(record.HostRecord("h", "n", "d"),),
                           daemons=(record.Daemon(1, "x", "d"),), vms=(("vm", "h", "n"),))
    with record.locked("r1"):
        record.write(rec)
        assert record.read("r1") == rec
        with pytest.raises(record.RunLocked):
            with record.locked("r1", wait=0.2):
                pass
    assert record.runs() == ["r1"]
