"""`neutrace trace`'s errors: a user's mistake on the command line is one ``error: ...`` line
naming the option, the value, what is wrong and the fix, with exit status 2, never a
traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from neutrace.cli import app
from tests.support.paths import SEED_YAML


def run(*args: str) -> tuple[int, str, str]:
    """``neutrace trace SEED args...``: the exit status, stdout and stderr."""
    res = CliRunner().invoke(app, ["trace", str(SEED_YAML), *args])
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize(("args", "head", "fix"), [
    (("--from", "nosuchvm", "--to", "203.0.113.10"),
     "error: --from nosuchvm: no VM, namespace or outside host is called nosuchvm",
     "known VMs: test-01, test-02"),
    (("--from", "test-01", "--to", "999.1.1.1"),
     "error: --to 999.1.1.1: the destination is not a valid IPv4 address",
     "known VMs: test-01, test-02"),
    (("--from", "test-01", "--to", "nosuchhost"),
     "error: --to nosuchhost: the destination is not an IP address, and no VM",
     "outside hosts: internet-host"),
    (("--from", "10.9.9.9", "--to", "203.0.113.10"),
     "error: --from 10.9.9.9: no VM, namespace or outside host of the cloud has the address",
     "known VMs"),
    (("--from", "test-01", "--to", "203.0.113.10", "--proto", "sctp"),
     "error: --proto sctp: unknown protocol", "use one of icmp, tcp, udp"),
    (("--from", "internet-host", "--dhcp"),
     "error: --from internet-host: a DHCPDISCOVER is sent by a VM", "known VMs"),
    (("--from", "nohost:eth0", "--to", "203.0.113.10"),
     "error: --from nohost:eth0: host 'nohost' has no interface 'eth0'", "test-ctrl-01"),
])
def test_input_errors(args: tuple[str, ...], head: str, fix: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.startswith(head), err
    assert fix in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_destination_is_a_usage_error() -> None:
    code, out, err = run("--from", "test-01")
    assert code == 2 and "give --to (or --dhcp)" in err


def test_a_good_walk_exits_0() -> None:
    code, out, err = run("--from", "test-01", "--to", "203.0.113.10", "--format", "summary")
    assert code == 0, err
    first, _, rest = out.partition("\n")
    assert first.startswith("[request] EXITED at internet-host: left the cloud through eth3")
    assert "test-01 (192.168.100.101): " in rest and "=> EXITED" in rest


@pytest.mark.parametrize(("cloud", "args", "status", "verdict"), [
    ("seed", ("--from", "test-02", "--to", "203.0.113.10"), 0, "[request] EXITED at internet-host"),
    ("sg-block", ("--from", "client", "--to", "server", "--proto", "tcp", "--dport", "80"), 1,
     "[request] DENIED at cmp-01 qbr"),
    ("seed", ("--from", "test-02", "--to", "203.0.113.10", "--reply"), 0,
     "[request] EXITED at internet-host"),
    ("seed", ("--from", "test-01", "--to", "192.168.100.250"), 1, "[request] "),
])
def test_verdict_first_and_exit_status_by_disposition(cloud: str, args: tuple[str, ...],
                                                      status: int, verdict: str) -> None:
    """As ping: 0 when the walk (and its reply) reached a destination, 1 when it did not."""
    path = SEED_YAML if cloud == "seed" else SEED_YAML.parents[1] / cloud / "cloud.yaml"
    res = CliRunner().invoke(app, ["trace", str(path), *args])
    assert res.exit_code == status, res.stdout + res.stderr
    assert res.stdout.startswith(verdict), res.stdout[:300]
    if status:
        assert "reached a destination)" in res.stdout.splitlines()[0]
        assert " 0 reached a destination" in res.stdout.splitlines()[0]


def test_trivial_flood_deaths_fold_into_one_line_unless_all() -> None:
    _, folded, _ = run("--from", "test-02", "--to", "203.0.113.10")
    _, full, _ = run("--from", "test-02", "--to", "203.0.113.10", "--all")
    line = next(ln for ln in folded.splitlines() if "3.1) copy out int-br-ex -> br-ex" in ln)
    assert "=> DROPPED: br-ex drops frames from br-int on VLAN 1" in line
    assert "(test-cmpt-02: br-int) => DROPPED: br-int is down" not in folded
    assert any("copy out br-int (test-cmpt-02: <root>) => DROPPED: br-int is down" in ln
               for ln in folded.splitlines())
    assert "3.1.1. test-cmpt-02: br-ex (OVS bridge)" not in folded
    assert "3.1.1. test-cmpt-02: br-ex (OVS bridge)" in full
    assert len(full.splitlines()) > len(folded.splitlines())
    # the copy to test-cmpt-01 crosses the tunnel before it dies: it stays in full
    assert "4.2.2. test-cmpt-01: br-tun" in folded


def test_vxlan_hop_shows_the_outer_header_as_encapsulation() -> None:
    _, out, _ = run("--from", "test-02", "--to", "203.0.113.10")
    lines = out.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("5. outside: underlay"))
    hop = "\n".join(lines[at:at + 4])
    assert "outer header: Ethernet 02:00:00:c4:79:a0 > 02:00:00:0c:00:17, IPv4 " \
           "192.168.120.22 > 192.168.120.11, UDP 0 > 4789; the frame inside is unchanged" in hop
    assert "nw_src: 192.168.111.4 -> 192.168.120.22" not in hop


@pytest.mark.parametrize(("args", "message"), [
    (("--dport", "22"), "error: --dport 22: icmp has no ports"),
    (("--sport", "1234"), "error: --sport 1234: icmp has no ports"),
    (("--proto", "tcp", "--dport", "70000"), "error: --dport 70000: not a port number"),
])
def test_ports_are_for_tcp_and_udp(args: tuple[str, ...], message: str) -> None:
    code, out, err = run("--from", "test-02", "--to", "203.0.113.10", *args)
    assert code == 2 and out == "" and err.startswith(message), err


def test_tcp_without_a_port_uses_what_the_help_says() -> None:
    res = CliRunner().invoke(app, ["trace", "--help"])
    assert "80 for tcp, 53 for udp" in " ".join(res.stdout.split())
    _, out, _ = run("--from", "test-02", "--to", "203.0.113.10", "--proto", "tcp",
                    "--format", "json")
    packet = json.loads(out)["request"]["packet"]
    assert (packet["tp_src"], packet["tp_dst"]) == (40000, 80)
    _, out, _ = run("--from", "test-02", "--to", "203.0.113.10", "--proto", "udp",
                    "--sport", "5353", "--dport", "5000", "--format", "json")
    packet = json.loads(out)["request"]["packet"]
    assert (packet["tp_src"], packet["tp_dst"]) == (5353, 5000)


def test_dhcp_shows_the_discover_and_the_offer() -> None:
    code, out, _ = run("--from", "test-02", "--dhcp")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("[discover] ACCEPTED at test-ctrl-01 qdhcp-")
    assert lines[1].startswith("[offer] DELIVERED at test-cmpt-02 test-02")
    assert "DHCPOFFER 192.168.111.4 to test-02 from tap96835b35-be" in out
    code, _, err = run("--from", "test-02", "--dhcp", "--to", "1.2.3.4")
    assert code == 2 and "leave out --to with --dhcp" in err
