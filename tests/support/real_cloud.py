"""Helpers for the real-backend tests: a cloud that is up (under a run name unique to the test
process), probes run inside its namespaces (a listener that reports who reached it, ping, a TCP
or UDP client), captures, the root namespace's snapshot, and the simulator's view of the same
scenarios for comparison.

Traffic only goes to addresses inside the cloud's own namespaces.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from neutrace.app import session
from neutrace.backends.real import cloud as real
from neutrace.backends.real.record import RunRecord
from neutrace.dataplane import NS_EXTERNAL, NS_VM, CloudState, Namespace
from neutrace.sim.walk import Walker
from neutrace.trace import SUCCESS

# Reports the source of the first packet that reaches it (ICMP echo request with our pattern,
# TCP connection or UDP datagram), or "none" after the timeout.
LISTENER = textwrap.dedent("""
    import socket, sys
    proto, port, timeout, token = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    v6 = sys.argv[5:] == ["6"]
    fam, any_ = (socket.AF_INET6, "::") if v6 else (socket.AF_INET, "0.0.0.0")
    if proto == "icmp":
        s = socket.socket(fam, socket.SOCK_RAW,
                          socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    elif proto == "tcp":
        s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((any_, port)); s.listen(5)
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((any_, port))
    s.settimeout(timeout)
    print("ready", flush=True)
    try:
        while True:
            if proto == "icmp":
                data, addr = s.recvfrom(4096)
                ihl = 0 if v6 else (data[0] & 15) * 4  # a raw ICMPv6 socket has no IP header
                if data[ihl] == (128 if v6 else 8) and token.encode() in data[ihl + 8:]:
                    print("from", addr[0], flush=True); break
            elif proto == "tcp":
                c, addr = s.accept(); print("from", addr[0], flush=True); c.close(); break
            else:
                data, addr = s.recvfrom(4096)
                if token.encode() in data:
                    print("from", addr[0], flush=True); break
    except socket.timeout:
        print("none", flush=True)
""")

SENDER = textwrap.dedent("""
    import socket, struct, sys, time
    proto, dst, port, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    v6 = ":" in dst
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    if proto == "icmp" and v6:  # the kernel computes ICMPv6 checksums of raw sockets
        s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        for seq in range(3):
            s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x4e54, seq) + token.encode(), (dst, 0))
            time.sleep(0.3)
    elif proto == "icmp":
        def csum(b):
            if len(b) % 2: b += b"\\0"
            t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
            t = (t >> 16) + (t & 0xffff); t += t >> 16
            return ~t & 0xffff
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        for seq in range(3):
            body = struct.pack("!BBHHH", 8, 0, 0, 0x4e54, seq) + token.encode()
            s.sendto(struct.pack("!BBHHH", 8, 0, csum(body), 0x4e54, seq) + token.encode(),
                     (dst, 0))
            time.sleep(0.3)
    elif proto == "tcp":
        s = socket.socket(fam); s.settimeout(2)
        try:
            s.connect((dst, port)); print("connected")
        except OSError as e:
            print("error", e)
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        for _ in range(3):
            s.sendto(token.encode(), (dst, port)); time.sleep(0.3)
""")


def run_name(stem: str) -> str:
    """A run name unique to this test process."""
    return f"t{os.getpid()}-{stem}".lower()[:40]


class RealCloud:
    """A cloud built by the real backend for a test (``with RealCloud(path) as c:``)."""

    def __init__(self, path: str | Path, stem: str | None = None) -> None:
        self.path = Path(path)
        self.state: CloudState = session.cloud_state(self.path)
        self.walker = Walker(self.state)
        self.run = run_name(stem or self.path.parent.name)
        self.rec: RunRecord | None = None

    def __enter__(self) -> RealCloud:
        real.down(self.run)  # a leftover of an earlier test process of the same pid
        self.rec = real.up(self.state, self.run)
        return self

    def __exit__(self, *exc: object) -> None:
        real.down(self.run)

    def netns(self, target: str) -> str:
        """The kernel namespace of a VM, outside host, host or ``host:namespace``."""
        return real.namespace_of(target, self.run)

    def exec(self, target: str, *argv: str, timeout: float = 30,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``target``'s namespace."""
        cp = subprocess.run(["ip", "netns", "exec", self.netns(target), *argv],
                            capture_output=True, text=True, timeout=timeout)
        if check and cp.returncode != 0:
            raise AssertionError(f"{argv} in {target} failed ({cp.returncode}): {cp.stderr}")
        return cp

    def start(self, target: str, *argv: str) -> subprocess.Popen[str]:
        """Start ``argv`` inside ``target``'s namespace (a listener, a capture)."""
        return subprocess.Popen(["ip", "netns", "exec", self.netns(target), *argv],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def probe(self, src: str, dst_ns: str, dst_ip: str, proto: str = "icmp", port: int = 0,
              timeout: float = 2.0) -> str | None:
        """Send from ``src`` to ``dst_ip``; the source address the listener in ``dst_ns``
        saw, or None if nothing reached it."""
        token = f"nt{os.getpid()}x{time.monotonic_ns() % 10**9}"
        listener = self.start(dst_ns, sys.executable, "-c", LISTENER, proto, str(port),
                              str(timeout), token, "6" if ":" in dst_ip else "4")
        try:
            assert listener.stdout is not None
            ready = listener.stdout.readline().strip()
            assert ready == "ready", (ready, listener.stderr.read() if listener.stderr else "")
            self.exec(src, sys.executable, "-c", SENDER, proto, dst_ip, str(port), token,
                      check=False, timeout=10)
            out, _ = listener.communicate(timeout=timeout + 5)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
        words = out.split()
        return words[1] if words[:1] == ["from"] else None


# -- the scenarios: every sender to every address of a VM, outside host or floating IP -------


@dataclass(frozen=True)
class Scenario:
    """One packet to compare: who sends, to what, and what the simulator says."""

    src: str
    dst_ip: str
    proto: str = "icmp"
    port: int = 0

    def __str__(self) -> str:
        tail = f"/{self.proto}{':' + str(self.port) if self.port else ''}"
        return f"{self.src}->{self.dst_ip}{tail}"


@dataclass(frozen=True)
class Expected:
    """The simulator's outcome: delivered to which namespace, seen from which source."""

    delivered: bool
    far_end: str | None  # a VM or outside namespace name
    seen_src: str | None


def _addresses(ns: Namespace, version: int) -> list[str]:
    """The namespace's addresses of ``version`` (not loopback, not link-local)."""
    out = []
    for itf in ns.interfaces:
        for a in itf.addresses:
            ip = ipaddress.ip_interface(a)
            if ip.version == version and not ip.ip.is_loopback and not ip.ip.is_link_local:
                out.append(str(ip.ip))
    return out


def scenarios(state: CloudState) -> Iterator[Scenario]:
    """Every VM and outside namespace sends ICMP to the first IPv4 address of every other VM and
    outside namespace and to every floating IP (a /32 on a qg- interface), and, from its first
    IPv6 address, to the first IPv6 address of every other one that has one."""
    spaces = [ns for hs in state.hosts for ns in hs.namespaces if ns.kind == NS_VM]
    spaces += list(state.external)
    fips = [a.split("/")[0] for hs in state.hosts for ns in hs.namespaces
            for itf in ns.interfaces if itf.name.startswith("qg-")
            for a in itf.addresses if a.endswith("/32")]
    for version in (4, 6):
        ends = [(ns.name, _addresses(ns, version)[:1]) for ns in spaces]
        for src, own in ends:
            if not own:  # nothing to send from in this family (an IPv6-only VM, say)
                continue
            for dst, ips in ends:
                if dst != src:
                    yield from (Scenario(src, ip) for ip in ips if ip not in own)
            if version == 4:
                yield from (Scenario(src, ip) for ip in fips)


def expected(walker: Walker, sc: Scenario) -> Expected:
    """What the simulator says for ``sc`` (cold): the first successful copy's far end."""
    conv = session.trace(walker, sc.src, sc.dst_ip, sc.proto, sc.port)
    for hops, fate in conv.request.paths():
        if fate.kind in SUCCESS and hops and hops[-1].kind in ("vm", "external"):
            p = hops[-1].packet
            return Expected(True, hops[-1].element, p.ipv6_src if p.is_ipv6 else p.nw_src)
    return Expected(False, None, None)


def owner_namespace(state: CloudState, ip: str) -> str | None:
    """The VM or outside namespace that holds ``ip`` (for a listener when the simulator says
    the packet is not delivered: it must not arrive there either)."""
    for hs in state.hosts:
        for ns in hs.namespaces:
            if ns.kind == NS_VM and ip in _addresses(ns, 4) + _addresses(ns, 6):
                return ns.name
    for ns in state.external:
        if ns.kind == NS_EXTERNAL and ip in _addresses(ns, 4) + _addresses(ns, 6):
            return ns.name
    return None


# -- the root namespace before and after ------------------------------------------------------


def root_snapshot() -> dict[str, object]:
    """The root namespace's links, routes, rules and iptables (to compare before/after)."""
    def out(*argv: str) -> str:
        return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout

    links = json.loads(out("ip", "-j", "link"))
    return {
        "links": sorted((ln["ifname"], ln.get("address"), ln.get("mtu"), ln.get("master"))
                        for ln in links),
        "routes": json.loads(out("ip", "-j", "route")),
        "rules": json.loads(out("ip", "-j", "rule")),
        "iptables": _strip_counters(out("iptables-save")),
    }


def _strip_counters(text: str) -> list[str]:
    return [ln.split(" [")[0] for ln in text.splitlines() if not ln.startswith("#")]


def netns_of_run(prefix: str) -> list[str]:
    """The namespaces that still carry ``prefix``."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [ln.split()[0] for ln in out.splitlines() if ln.startswith(prefix)]


def processes_with(marker: str) -> list[int]:
    """PIDs whose command line contains ``marker``."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker in p.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode():
                    pids.append(int(p.name))
            except OSError:
                continue
    return pids


# -- captures of a cloud that is up -------------------------------------------------------------


def collect_host(c: RealCloud, host: str, folder: Path, sysroot: Path) -> Path:
    """`neutrace collect` run inside ``host`` of ``c`` (as an operator runs it on a host) into
    ``folder``; the host's OVS agent configuration (``openvswitch_agent.ini``, which a real host
    has and collect copies) is given through ``--sysroot``."""
    from neutrace.backends.real import host_env
    from neutrace.topology import load
    from tests.support.capture_writer import agent_ini
    from tests.support.paths import REPO

    ini = sysroot / "etc" / "neutron" / "plugins" / "ml2" / "openvswitch_agent.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(agent_ini(load(c.path).host(host)))
    env = host_env(host, c.run)
    proc = subprocess.run(
        env.argv([sys.executable, "-m", "neutrace.cli", "collect", "-o", str(folder),
                  "--netns-prefix", env.netns + ".", "--hostname", host,
                  "--sysroot", str(sysroot)]),
        env=dict(env.env, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True,
        timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return folder


def host_run(c: RealCloud, host: str, *argv: str, check: bool = True) -> str:
    """``argv`` inside ``host`` of ``c`` with its own Open vSwitch's environment (ovs-vsctl,
    ovs-ofctl, iptables and ip reach that host's); its stdout."""
    from neutrace.backends.real import host_env

    env = host_env(host, c.run)
    cp = subprocess.run(env.argv(list(argv)), env=env.env, capture_output=True, text=True,
                        timeout=60, check=False)
    if check and cp.returncode != 0:
        raise AssertionError(f"{argv} on {host} failed ({cp.returncode}): {cp.stderr}")
    return cp.stdout
