"""The seed cloud on the real backend (issue 9's "done when"): real pings, the VXLAN on the
underlay, the floating IP's NAT in conntrack, the flat network leaving through eth3."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.support.real_cloud import RealCloud

pytestmark = [pytest.mark.root, pytest.mark.ovs]

ROUTER = "test-ctrl-01:qrouter-c8aec0d9-3203-4bdb-9237-9818603f521f"
OUTSIDE = "203.0.113.10"


def _capture(c: RealCloud, where: str, iface: str, bpf: str,
             count: int = 1) -> subprocess.Popen[str]:
    """Start tcpdump in ``where`` on ``iface`` (text, numeric, verbose, ``count`` packets)."""
    p = c.start(where, "tcpdump", "-l", "-n", "-v", "-e", "-c", str(count), "-i", iface, bpf)
    time.sleep(0.8)  # tcpdump opens its socket
    return p


def _finish(p: subprocess.Popen[str], timeout: float = 8) -> str:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return str(out) + str(err)


def test_test02_reaches_outside_host_from_its_floating_ip(seed_cloud: RealCloud) -> None:
    """test-02 (VXLAN, behind the router) pings the outside host, which sees 192.168.100.102;
    the underlay between test-cmpt-02 and test-ctrl-01 carries VXLAN VNI 65616; conntrack in
    the qrouter namespace shows the floating IP's NAT."""
    c = seed_cloud
    cap = _capture(c, "test-cmpt-02", "eth1", "udp dst port 4789 and dst host 192.168.120.11")
    seen = c.probe("test-02", "internet-host", OUTSIDE)
    assert seen == "192.168.100.102"
    text = _finish(cap)
    assert re.search(r"VXLAN, flags \[I\] \(0x08\), vni 65616", text), text
    assert re.search(r"192\.168\.120\.22\.\d+ > 192\.168\.120\.11\.4789", text), text
    ping = c.exec("test-02", "ping", "-c", "1", "-W", "2", OUTSIDE)
    assert "1 received" in ping.stdout
    ct = c.exec(ROUTER, "conntrack", "-L", "-p", "icmp").stdout
    assert re.search(r"src=192\.168\.111\.4 dst=203\.0\.113\.10 .* src=203\.0\.113\.10 "
                     r"dst=192\.168\.100\.102", ct), ct


def test_test01_leaves_through_eth3_of_its_compute(seed_cloud: RealCloud) -> None:
    """test-01 (flat public_net) leaves through test-cmpt-02's eth3 with 192.168.100.101."""
    c = seed_cloud
    cap = _capture(c, "test-cmpt-02", "eth3", f"icmp and dst host {OUTSIDE}")
    assert c.probe("test-01", "internet-host", OUTSIDE) == "192.168.100.101"
    text = _finish(cap)
    assert re.search(rf"192\.168\.100\.101 > {re.escape(OUTSIDE)}: ICMP echo request", text), text


def test_outside_host_reaches_test02_at_its_floating_ip_in_a_conversation(
        seed_cloud: RealCloud) -> None:
    """The outside host reaches test-02 at 192.168.100.102: the replies of test-02's pings (the
    seed's default security group admits no new ingress from outside, see test_examples for
    the floating-ip example where it does)."""
    c = seed_cloud
    cap = _capture(c, "internet-host", "eth0", "icmp[icmptype] == icmp-echoreply", count=1)
    ping = c.exec("test-02", "ping", "-c", "2", "-W", "2", OUTSIDE)
    assert "2 received" in ping.stdout
    text = _finish(cap)
    assert re.search(rf"{re.escape(OUTSIDE)} > 192\.168\.100\.102: ICMP echo reply", text), text
    # a new connection from outside is denied by test-02's (default) security group, as the
    # simulator says
    assert c.probe("internet-host", "test-02", "192.168.100.102") is None


def test_ovs_and_exec_reach_the_host(seed_cloud: RealCloud) -> None:
    """`neutrace ovs HOST -- ...` talks to the host's own switch; `exec` runs in the VM."""
    from neutrace.backends.real import host_env

    env = host_env("test-ctrl-01", seed_cloud.run)
    out = subprocess.run(env.argv(["ovs-vsctl", "br-exists", "br-tun"]), env=env.env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    dp = subprocess.run(env.argv(["ovs-vsctl", "get", "bridge", "br-int", "datapath_type"]),
                        env=env.env, capture_output=True, text=True, check=True).stdout
    assert dp.strip() == "netdev"
    addr = seed_cloud.exec("test-02", "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert "192.168.111.4/24" in addr
