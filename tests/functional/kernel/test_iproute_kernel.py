"""The ``ip``/``bridge`` parsers against the kernel and pyroute2: a scratch namespace with a Linux
bridge, a veth pair (one end enslaved), a tap, a veth into a second namespace, addresses,
routes in two tables, a rule and a neighbour is read three ways — ``ip -d -j``, the text sos
collects, and pyroute2's netlink dump — and all three must describe the same links."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from neutrace.syntax import bridgecmd, iproute
from tests.conftest import require
from tests.support.kernel_lab import lab_tag

pytestmark = pytest.mark.root


def ip(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "-n", ns, *argv], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[str, str]]:
    import os
    require(os.geteuid() == 0, "root with iproute2 (network namespaces)")
    a, b = f"nt-{lab_tag()}-ipa", f"nt-{lab_tag()}-ipb"
    for ns in (a, b):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for argv in (["link", "add", "qbrX", "type", "bridge"],
                     ["link", "add", "qvbX", "type", "veth", "peer", "name", "qvoX"],
                     ["link", "set", "qvbX", "master", "qbrX"],
                     ["tuntap", "add", "tapX", "mode", "tap"],
                     ["link", "set", "tapX", "master", "qbrX"],
                     ["link", "add", "v0", "type", "veth", "peer", "name", "eth0", "netns", b],
                     ["addr", "add", "10.8.0.1/24", "dev", "v0"],
                     ["link", "set", "v0", "up"], ["link", "set", "qbrX", "up"],
                     ["link", "set", "qvbX", "up"], ["link", "set", "qvoX", "up"],
                     ["route", "add", "10.20.0.0/16", "via", "10.8.0.2", "table", "9"],
                     ["rule", "add", "from", "10.8.0.0/24", "table", "9", "pref", "90"],
                     ["neigh", "add", "10.8.0.9", "lladdr", "02:00:00:00:00:09", "dev", "v0"]):
            subprocess.run(["ip", "-n", a, *argv], check=True)
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_json_text_and_pyroute2_agree(lab: tuple[str, str]) -> None:
    from pyroute2 import NetNS

    a, b = lab
    js = {lk.ifname: lk for lk in iproute.parse_links_json(ip(a, "-d", "-j", "address", "show"))}
    tx = {lk.ifname: lk for lk in iproute.parse_links_text(ip(a, "-d", "address", "show"))}
    assert set(js) == set(tx) == {"lo", "qbrX", "qvbX", "qvoX", "tapX", "v0"}
    with NetNS(a) as nl:
        nl_links = {m.get_attr("IFLA_IFNAME"): m for m in nl.get_links()}
        by_index = {m["index"]: name for name, m in nl_links.items()}
        for name, m in nl_links.items():
            info = m.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
            master = m.get_attr("IFLA_MASTER")
            for parsed in (js[name], tx[name]):
                assert parsed.ifindex == m["index"], name
                assert parsed.mtu == m.get_attr("IFLA_MTU"), name
                assert parsed.address == m.get_attr("IFLA_ADDRESS"), name
                assert parsed.kind == (kind or ""), name
                assert parsed.master == (by_index[master] if master else None), name
    assert js["qvbX"].link == "qvoX" and js["v0"].link_index is not None
    peer = {lk.ifname: lk for lk in iproute.parse_links_json(ip(b, "-d", "-j", "link", "show"))}
    assert peer["eth0"].link_index == js["v0"].ifindex
    assert tx["v0"].link_netns == b


def test_routes_rules_neighbours_and_fdb(lab: tuple[str, str]) -> None:
    a, _ = lab
    rj = iproute.parse_routes_json(ip(a, "-d", "-j", "route", "show", "table", "all"))
    rt = iproute.parse_routes_text(ip(a, "route", "show", "table", "all"))
    assert set(rj) == set(rt)
    assert any(r.dst == "10.20.0.0/16" and r.table == "9" and r.gateway == "10.8.0.2"
               for r in rj)
    rules = iproute.parse_rules_json(ip(a, "-j", "rule", "show"))
    assert rules == iproute.parse_rules_text(ip(a, "-4", "rule", "list"))
    assert any(r.priority == 90 and r.src == "10.8.0.0/24" and r.table == "9" for r in rules)
    neigh = iproute.parse_neigh_json(ip(a, "-j", "neigh", "show"))
    assert iproute.IpNeigh("10.8.0.9", "v0", "02:00:00:00:00:09", ("PERMANENT",)) in neigh
    fdb_cmd = ["ip", "netns", "exec", a, "bridge"]
    fj = bridgecmd.parse_fdb_json(subprocess.run([*fdb_cmd, "-d", "-j", "fdb", "show"],
                                                 capture_output=True, text=True).stdout)
    ft = bridgecmd.parse_fdb_text(subprocess.run([*fdb_cmd, "-s", "-s", "-d", "-t", "fdb",
                                                  "show"], capture_output=True, text=True).stdout)
    assert fj == ft and any(e.master == "qbrX" and e.dev == "qvbX" for e in fj)
