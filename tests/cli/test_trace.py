"""`neutrace trace`'s errors: a user's mistake on the command line is one ``error: ...`` line
naming the option, the value, what is wrong and the fix, with exit status 2, never a
traceback."""

from __future__ import annotations

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
    assert out.startswith("test-01 (192.168.100.101): ") and "=> EXITED" in out
