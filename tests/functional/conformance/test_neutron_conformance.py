"""Conformance with Neutron itself: every host of the clouds is programmed by Neutron 29's own
neutron-openvswitch-agent code (scripts/neutron_conformance.py, run with the Python of the
virtualenv that has neutron) and by `neutrace.agents.program`, and the results are compared:

- the OVS ports of every bridge (name, type, VLAN tag, options),
- the OpenFlow flows of every bridge, per table (cookies dropped), the openvswitch firewall
  driver's br-int tables included,
- the hybrid iptables firewall's iptables/ip6tables rules and ipsets of the host's root namespace.

Each difference is listed precisely in the assertion message (bridge, table, Neutron's flow vs
ours). Known differences are marked ``xfail(strict=True)`` with the reason, see docs/conformance.md.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import pytest

import neutrace.agents
import neutrace.topology
from neutrace.dataplane import CloudState
from tests.conftest import require
from tests.support.conformance_lib import (
    REPO,
    canonical_netfilter,
    compare_flows,
    compare_ipsets,
    compare_netfilter,
    compare_ports,
    dump_ours,
    have_root,
    hints_for,
    neutron_host_state,
    neutron_ports,
    neutron_python,
    our_ports,
    run_many,
)
from tests.support.paths import DATA

pytestmark = [pytest.mark.conformance, pytest.mark.ovs, pytest.mark.root, pytest.mark.slow]

HERE = Path(__file__).parent
# the four clouds of the brief (examples/ or our fallbacks), every other example, and our extras
MAIN_CLOUDS = ("seed", "vlan-provider", "two-tenants", "l2pop")
CLOUD_NAMES = (
    *MAIN_CLOUDS,
    *sorted(p.parent.name for p in (REPO / "examples").glob("*/cloud.yaml")
            if p.parent.name not in MAIN_CLOUDS),
    "extras",
    "dvr-vlan",
    "ovsfw-extras",
    "dvr-ipv6",
    "gre-geneve",
    "ha-extras",
    "routed-underlay",
    "tunnels-ipv6",
)
# NEUTRACE_CONFORMANCE_CLOUDS=dvr,seed runs only those (while working on one feature)
if os.environ.get("NEUTRACE_CONFORMANCE_CLOUDS"):
    CLOUD_NAMES = tuple(n for n in CLOUD_NAMES
                        if n in os.environ["NEUTRACE_CONFORMANCE_CLOUDS"].split(","))


def cloud_path(name: str) -> Path:
    """examples/<name>/cloud.yaml when it exists, else our own tests/conformance/clouds/."""
    example = REPO / "examples" / name / "cloud.yaml"
    return example if example.exists() else DATA / "clouds" / f"{name}.yaml"


def _cases(test: str) -> list[Any]:
    cases = []
    for name in CLOUD_NAMES:
        path = cloud_path(name)
        for host in neutrace.topology.load(path).hosts:
            reason = (KNOWN.get((test, name, host.name)) or KNOWN.get((test, name, "*"))
                      or KNOWN.get((test, "*", "*")))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            cases.append(pytest.param(name, host.name, id=f"{name}-{host.name}", marks=marks))
    return cases


# (test, cloud, host) -> why: known differences, reported to the integrator (docs/conformance.md).
# strict: once fixed the test XPASSes and fails, so the entry must then be removed.
KNOWN: dict[tuple[str, str, str], str] = {
}


class Runs:
    """Ours (computed in-process) and Neutron's (one script run per cloud-host, in parallel)."""

    def __init__(self, python: str) -> None:
        self.states: dict[str, CloudState] = {}
        jobs = []
        for name in CLOUD_NAMES:
            path = cloud_path(name)
            state = neutrace.agents.program(neutrace.topology.load(path))
            self.states[name] = state
            for h in state.hosts:
                jobs.append((path, h.name, hints_for(h)))
        workers = int(os.environ.get("NEUTRACE_CONFORMANCE_JOBS", "8"))
        self.results = run_many(python, jobs, workers=workers)

    def neutron(self, cloud: str, host: str) -> dict[str, Any]:
        r = self.results[(str(cloud_path(cloud)), host)]
        if isinstance(r, Exception):
            raise r
        return r


@pytest.fixture(scope="session")
def runs() -> Runs:
    python = neutron_python()
    require(python is not None,
            "neutron in a virtualenv (NEUTRACE_NEUTRON_PYTHON, default "
            "/opt/neutrace-neutron-venv/bin/python; .ci/run creates it)")
    require(have_root(), "root with network namespaces")
    assert python is not None
    return Runs(python)


def _report(what: str, cloud: str, host: str, diffs: list[Any]) -> str:
    body = "\n".join(str(d) for d in diffs)
    return (f"{cloud} {host}: {len(diffs)} {what} differ from Neutron 29 "
            f"(- neutron, + neutrace):\n{body}")


@pytest.mark.parametrize(("cloud", "host"), _cases("ports"))
def test_ports(runs: Runs, cloud: str, host: str) -> None:
    ours = runs.states[cloud].host(host)
    assert ours is not None
    diffs = compare_ports(our_ports(ours), neutron_ports(runs.neutron(cloud, host)))
    assert not diffs, _report("ports", cloud, host, diffs)


@pytest.mark.parametrize(("cloud", "host"), _cases("diff"))
def test_neutrace_diff_finds_nothing(runs: Runs, cloud: str, host: str) -> None:
    """`neutrace diff`'s comparison (neutrace.verify.drift) of what Neutron's agent programmed
    (its bridges, ports, flows with its own cookies and local VLANs, and its namespaces'
    iptables) with the agents' state: no differences."""
    from neutrace.render.drift import difference_text
    from neutrace.verify.drift import compare_host

    ours = runs.states[cloud].host(host)
    assert ours is not None
    drift = compare_host(ours, neutron_host_state(ours, runs.neutron(cloud, host)))
    assert not drift.differences, _report("diff facts", cloud, host, [
        difference_text(d) for d in drift.differences])


@pytest.mark.parametrize(("cloud", "host"), _cases("flows"))
def test_flows(runs: Runs, ovs_sandbox: Any, cloud: str, host: str) -> None:
    ours = runs.states[cloud].host(host)
    assert ours is not None
    theirs = {br: data["flows"] for br, data in runs.neutron(cloud, host)["bridges"].items()}
    assert sum(len(f) for f in theirs.values()) > 10, "Neutron programmed (almost) nothing"
    diffs = compare_flows(dump_ours(ovs_sandbox, ours), theirs)
    assert not diffs, _report("(bridge, table)s", cloud, host, diffs)


@pytest.mark.parametrize(("cloud", "host"), _cases("firewall_iptables"))
def test_firewall_iptables(runs: Runs, cloud: str, host: str) -> None:
    ours = runs.states[cloud].host(host)
    assert ours is not None
    root = ours.root
    mine = canonical_netfilter(root.iptables, root.ip6tables, root.ipsets)
    theirs = runs.neutron(cloud, host)["netfilter"][""]
    diffs = []
    for tool in ("iptables-save", "ip6tables-save"):
        diffs += [f"[{tool}] {d}" for d in compare_netfilter(mine[tool], theirs[tool])]
    sets = compare_ipsets(mine["ipset"], theirs["ipset"])
    if sets:
        diffs.append("[ipset save]\n" + "\n".join(sets))
    assert not diffs, _report("netfilter chains", cloud, host, diffs)


@pytest.mark.parametrize(("cloud", "host"), _cases("router_and_dhcp_iptables"))
def test_router_and_dhcp_iptables(runs: Runs, cloud: str, host: str) -> None:
    """qrouter-* (L3 agent: LegacyRouter.process + the metadata driver) and qdhcp-* (DHCP agent:
    fill_dhcp_udp_checksums) namespaces: the same namespaces, with the same rules."""
    ours = runs.states[cloud].host(host)
    assert ours is not None
    mine = {ns.name: ns for ns in ours.namespaces
            if ns.name.startswith(("qrouter-", "qdhcp-", "snat-", "fip-"))}
    theirs = {k: v for k, v in runs.neutron(cloud, host)["netfilter"].items() if k}
    assert sorted(mine) == sorted(theirs), "namespaces differ from Neutron's"
    diffs = []
    for name in sorted(mine):
        ns = mine[name]
        canon = canonical_netfilter(ns.iptables, ns.ip6tables, ns.ipsets)
        for tool in ("iptables-save", "ip6tables-save"):
            diffs += [f"{name} [{tool}] {d}"
                      for d in compare_netfilter(canon[tool], theirs[name][tool])]
    assert not diffs, _report("netfilter chains", cloud, host, diffs)


def _routes(ns: Any, theirs: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """(ours, Neutron's) non-connected routes as (destination, device, gateway, table)."""
    return (sorted({(r.destination, r.device, r.gateway, r.table) for r in ns.routes
                    if r.proto != "kernel"}),
            sorted({(r["destination"], r["device"], r["gateway"], r["table"]) for r in theirs}))


def _section_diffs(name: str, sections: dict[str, tuple[Any, Any]]) -> list[str]:
    """One line block per section of namespace ``name`` where ours and Neutron's differ."""
    return [f"{name} {what}:\n  - neutron  {theirs}\n  + neutrace {mine}"
            for what, (mine, theirs) in sections.items() if mine != theirs]


@pytest.mark.parametrize(("cloud", "host"), _cases("dvr_namespaces"))
def test_dvr_namespaces(runs: Runs, cloud: str, host: str) -> None:
    """A DVR host's qrouter-, snat- and fip- namespaces (DvrLocalRouter/DvrEdgeRouter.process
    and FipNamespace, from what they asked ip_lib and the interface driver for): the same
    namespaces; interfaces (MAC, MTU, addresses); routes with their tables (connected routes
    are the kernel's); ip rules (priority, table, from, iif); neighbours; sysctls."""
    ours = runs.states[cloud].host(host)
    assert ours is not None
    theirs = runs.neutron(cloud, host).get("dvr", {})
    mine = {ns.name: ns for ns in ours.namespaces if ns.kind in ("snat", "fip")
            or (ns.kind == "qrouter" and any(i.name.startswith("rfp-") for i in ns.interfaces))
            or ns.name in theirs}
    assert sorted(mine) == sorted(theirs), "DVR namespaces differ from Neutron's"
    diffs = []
    for name, ns in sorted(mine.items()):
        t = theirs[name]
        a = {i.name: {"mac": i.mac, "mtu": i.mtu, "addresses": sorted(i.addresses)}
             for i in ns.interfaces if i.kind != "loopback"}
        b = {n: {"mac": d.get("mac", a.get(n, {}).get("mac")), "mtu": d.get("mtu"),
                 "addresses": sorted(d["addresses"])} for n, d in t["interfaces"].items()}
        sections: dict[str, tuple[Any, Any]] = {
            "interfaces": (a, b),
            "routes (destination, device, gateway, table)": _routes(ns, t["routes"]),
            "rules (priority, table, from, iif)": (
                sorted({(r.priority, r.table, r.source, r.iif) for r in ns.rules}),
                sorted({(int(r["priority"]), r["table"], None if r.get("iif") else str(
                    ipaddress.ip_network(r["ip"], strict=False)), r.get("iif"))
                    for r in t["rules"]})),
            "neighbours (ip, mac, device)": (
                sorted({(n.ip, n.mac, n.device) for n in ns.neighbours}),
                sorted({(n["ip"], n["mac"], n["device"]) for n in t["neighbours"]})),
            "sysctls": (sorted({f"{k}={v}" for k, v in ns.sysctls}), sorted(set(t["sysctls"]))),
        }
        diffs += _section_diffs(name, sections)
    assert not diffs, _report("DVR namespace parts", cloud, host, diffs)


def _last_values(sysctls: list[str]) -> list[str]:
    """``key=value`` settings as the namespace is left: the last value of each key."""
    values: dict[str, str] = {}
    for item in sysctls:
        key, _, value = item.partition("=")
        values[key] = value
    return sorted(f"{k}={v}" for k, v in values.items())


def _without_link_local(addresses: list[str] | tuple[str, ...]) -> list[str]:
    """The addresses without IPv6 link-local ones: keepalived's fe80:: VIPs on the master's
    qr-/qg- are the link-local addresses neutrace lists on no interface (the kernel's own on
    every other device are not listed either; keepalived.conf, compared too, holds them)."""
    return sorted(a for a in addresses if not (
        ipaddress.ip_interface(a).version == 6 and ipaddress.ip_interface(a).is_link_local))


@pytest.mark.parametrize(("cloud", "host"), _cases("ha_namespaces"))
def test_ha_namespaces(runs: Runs, cloud: str, host: str) -> None:
    """An HA router's qrouter- namespace on each of its L3 agents (Neutron's HaRouter
    ``initialize`` + ``process``, keepalived recorded instead of started; on the master the
    agent's state change to primary and the VIPs and virtual routes keepalived would set, from
    Neutron's own KeepalivedInstance): the same namespaces; interfaces (MAC, MTU, addresses);
    routes; sysctls as left; keepalived.conf verbatim; radvd.conf (master only)."""
    ours = runs.states[cloud].host(host)
    assert ours is not None
    theirs = runs.neutron(cloud, host).get("ha", {})
    conf = {f.namespace: f.text for f in ours.files if f.path.endswith("/keepalived.conf")}
    mine = {ns.name: ns for ns in ours.namespaces if ns.name in conf}
    assert sorted(mine) == sorted(theirs), "HA router namespaces differ from Neutron's"
    diffs = []
    for name, ns in sorted(mine.items()):
        t = theirs[name]
        a = {i.name: {"mac": i.mac, "mtu": i.mtu, "addresses": _without_link_local(i.addresses)}
             for i in ns.interfaces if i.kind != "loopback"}
        b = {n: {"mac": d.get("mac"), "mtu": d.get("mtu"),
                 "addresses": _without_link_local(d["addresses"])}
             for n, d in t["interfaces"].items()}
        sections: dict[str, tuple[Any, Any]] = {
            "interfaces": (a, b),
            "routes (destination, device, gateway, table)": _routes(ns, t["routes"]),
            "sysctls": (sorted(f"{k}={v}" for k, v in ns.sysctls),
                        _last_values(t["sysctls"])),
            "keepalived.conf": (conf[name], t["keepalived.conf"]),
            "daemons (radvd.conf on the master)": (
                {k: f.text for f in ours.files for k in ("radvd",)
                 if f.namespace == name and f.path.endswith(".radvd.conf")},
                t.get("daemons", {})),
        }
        diffs += _section_diffs(name, sections)
    assert not diffs, _report("HA namespace parts", cloud, host, diffs)


@pytest.mark.parametrize(("cloud", "host"), _cases("bridges"))
def test_bridges(runs: Runs, cloud: str, host: str) -> None:
    """The same OVS bridges, with Neutron's fail_mode, OpenFlow protocols and datapath_type."""
    ours = runs.states[cloud].host(host)
    assert ours is not None
    mine = {b.name: {"fail_mode": b.fail_mode, "protocols": sorted(b.protocols),
                     "datapath_type": b.datapath_type} for b in ours.ovs_bridges}
    theirs = {name: {k: data[k] for k in ("fail_mode", "protocols", "datapath_type")}
              for name, data in runs.neutron(cloud, host)["bridges"].items()}
    diffs = [f"{b}:\n  - neutron  {theirs.get(b)}\n  + neutrace {mine.get(b)}"
             for b in sorted(set(mine) | set(theirs)) if mine.get(b) != theirs.get(b)]
    assert not diffs, _report("bridges", cloud, host, diffs)


@pytest.mark.parametrize(("cloud", "host"), _cases("namespace_devices"))
def test_namespace_devices(runs: Runs, cloud: str, host: str) -> None:
    """qrouter-*/qdhcp-* interfaces (MAC, MTU, addresses) and the routes the L3 and DHCP agents
    add (gateways, on-link and extra routes), as Neutron's code (LegacyRouter.process,
    DeviceManager.setup) asked the interface driver and ip_lib for them. Connected routes are
    the kernel's, not compared."""
    ours = runs.states[cloud].host(host)
    assert ours is not None
    neutron = runs.neutron(cloud, host)
    theirs = neutron.get("devices", {})
    dvr = set(neutron.get("dvr", {}))  # compared by test_dvr_namespaces
    dvr |= set(neutron.get("ha", {}))  # and by test_ha_namespaces
    mine = {ns.name: ns for ns in ours.namespaces
            if ns.name.startswith(("qrouter-", "qdhcp-")) and ns.name not in dvr}
    assert sorted(mine) == sorted(theirs), "qrouter/qdhcp namespaces differ from Neutron's"
    diffs = []
    for name, ns in sorted(mine.items()):
        a = {i.name: {"mac": i.mac, "mtu": i.mtu, "addresses": sorted(i.addresses)}
             for i in ns.interfaces if i.kind != "loopback"}
        b = {n: {"mac": d.get("mac"), "mtu": d.get("mtu"), "addresses": sorted(d["addresses"])}
             for n, d in theirs[name]["interfaces"].items()}
        for itf in sorted(set(a) | set(b)):
            if a.get(itf) != b.get(itf):
                diffs.append(f"{name} {itf}:\n  - neutron  {b.get(itf)}\n  + neutrace {a.get(itf)}")
        ra = sorted((r.destination, r.gateway) for r in ns.routes
                    if r.proto != "kernel" and r.table == "main")
        rb = sorted((r["destination"], r["gateway"]) for r in theirs[name]["routes"])
        if ra != rb:
            diffs.append(f"{name} routes (destination, gateway):\n  - neutron  {rb}\n"
                         f"  + neutrace {ra}")
    assert not diffs, _report("namespace devices", cloud, host, diffs)


@pytest.mark.parametrize(("cloud", "host"), _cases("router_daemons"))
def test_router_daemons(runs: Runs, cloud: str, host: str) -> None:
    """A legacy or distributed router's radvd.conf as Neutron's ra.DaemonMonitor writes it
    (byte for byte, or no radvd when no interface has an IPv6 subnet), and the IPv6 sysctls of
    a legacy router's gateway device (_configure_ipv6_params_on_gw: accept_ra 0 with an IPv6
    gateway, 2 without; forwarding)."""
    ours = runs.states[cloud].host(host)
    assert ours is not None
    neutron = runs.neutron(cloud, host)
    theirs = {k: v for k, v in neutron.get("devices", {}).items()
              if k.startswith("qrouter-") and k not in neutron.get("dvr", {})}
    theirs.update({k: v for k, v in neutron.get("dvr", {}).items() if k.startswith("qrouter-")})
    diffs = []
    for name, t in sorted(theirs.items()):
        ns = next(n for n in ours.namespaces if n.name == name)
        radvd = ours.file(f"/var/lib/neutron/ra/{name.removeprefix('qrouter-')}.radvd.conf")
        mine = {"radvd": radvd.text} if radvd is not None and radvd.namespace == name else {}
        if mine != t.get("daemons", {}):
            diffs.append(f"{name} daemons:\n  - neutron  {t.get('daemons')}\n"
                         f"  + neutrace {mine}")
        wanted = {s.split("=")[0]: s.split("=")[1] for s in t.get("sysctls", [])}
        got = {k: v for k, v in ns.sysctls if k in wanted}
        if got != wanted:
            diffs.append(f"{name} IPv6 sysctls:\n  - neutron  {wanted}\n  + neutrace {got}")
    assert not diffs, _report("router daemons/sysctls", cloud, host, diffs)
