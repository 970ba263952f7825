"""Small host formats: ``sysctl -a`` (neutrace.syntax.sysctl) and libvirt domain XML
(neutrace.syntax.libvirt)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.syntax.libvirt import Domain, DomainInterface, NovaPort, format_domain, parse_domain
from neutrace.syntax.sysctl import format_sysctl, forwarding_sysctls, parse_sysctl
from tests.support.paths import DATA

LINUX = DATA / "linux"


def test_sysctl_real_output() -> None:
    pairs = parse_sysctl((LINUX / "sysctl.txt").read_text())
    d = dict(pairs)
    assert d["net.ipv4.ip_forward"] == "1"
    assert d["net.bridge.bridge-nf-call-iptables"] == "1"
    fwd = dict(forwarding_sysctls(pairs))
    assert "net.ipv4.ip_forward" in fwd and "net.ipv4.conf.all.forwarding" in fwd
    assert "net.ipv4.conf.v0.arp_ignore" in fwd
    assert "net.ipv4.conf.all.accept_redirects" not in fwd
    assert parse_sysctl("sysctl: permission denied on key 'fs.x'\nkernel.a = 1 2\t3\n") == (
        ("kernel.a", "1 2\t3"),)


@given(st.lists(st.tuples(st.text("abc.-_", min_size=1, max_size=9).filter(
    lambda k: k.strip() == k and not k.startswith("sysctl:")),
    st.text("0123 x\t", max_size=5).map(str.strip)), max_size=5))
def test_sysctl_round_trip(pairs: list[tuple[str, str]]) -> None:
    assert parse_sysctl(format_sysctl(pairs)) == tuple(pairs)


def test_libvirt_nova_domain() -> None:
    d = parse_domain((LINUX / "libvirt-instance.xml").read_text())
    assert d.name == "instance-00000002" and d.nova_name == "test-02"
    assert d.nova_ports == (NovaPort("1b17c0cc-9f3e-4a2b-8c5d-6e7f8a9b0c1d", ("192.168.111.4",)),)
    hybrid, direct = d.interfaces
    assert hybrid == DomainInterface("fa:16:3e:a6:01:bf", "tap1b17c0cc-9f", "bridge",
                                     "qbr1b17c0cc-9f", None, 1450)
    assert direct.interfaceid == "2c28d1dd-0000-4000-8000-000000000002"
    assert direct.mac == "fa:16:3e:00:00:02" and direct.source_bridge == "br-int"


@pytest.mark.parametrize(("text", "match"), [
    ("<domain><name>x</name>", "not valid XML"), ("<network/>", "not <domain>"),
    ("<domain/>", "no <name>")])
def test_libvirt_bad(text: str, match: str) -> None:
    with pytest.raises(SyntaxParseError, match=match):
        parse_domain(text, source="d.xml")


itfs = st.builds(DomainInterface, st.just("fa:16:3e:00:00:01"),
                 st.none() | st.just("tapabc"), st.sampled_from(["bridge", "ethernet"]),
                 st.none() | st.sampled_from(["qbrabc", "br-int"]),
                 st.none() | st.just("p-1"), st.none() | st.integers(1000, 9000))


@given(st.builds(Domain, st.just("instance-1"), st.just("u-1"), st.none() | st.just("vm a"),
                 st.lists(itfs, max_size=3).map(tuple),
                 st.lists(st.builds(NovaPort, st.just("p-1"), st.just(("10.0.0.1",))),
                          max_size=2).map(tuple)))
def test_libvirt_round_trip(d: Domain) -> None:
    assert parse_domain(format_domain(d)) == d
