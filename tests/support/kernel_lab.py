"""A small lab for the functional tests: the same namespaces built twice, as `Namespace` data for
the Linux engines and on the real kernel (network namespaces ``nt-<tag>-<name>``), plus a tiny
walker that joins the engine's elements by veth peers (the real walker lives in neutrace.sim).

Everything on the kernel side runs inside the lab's own namespaces (``ip -n``, ``ip netns exec``);
veths are created with both ends inside them. `Lab.down` deletes the namespaces, which removes
every device, rule and conntrack entry made in them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from neutrace.dataplane import BRIDGE, LOOPBACK, VETH, HostState, Interface, Namespace
from neutrace.engines.linuxnet import LinuxEngine, LinuxState
from neutrace.engines.results import LinuxResult
from neutrace.packet import Packet
from neutrace.syntax.iptables import parse_iptables_save
from neutrace.trace import Cause, LinuxFate, LinuxWhy, RuleStep, Step

PING = textwrap.dedent("""
    import os, socket, struct, sys, time
    def csum(b):
        if len(b) % 2: b += b"\\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        s = (s >> 16) + (s & 0xffff); s += s >> 16
        return ~s & 0xffff
    dst = sys.argv[1]
    ident = os.getpid() & 0xffff
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(0.3)
    if len(sys.argv) > 2:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(sys.argv[2]))
    body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"neutrace"
    pkt = struct.pack("!BBHHH", 8, 0, csum(body), ident, 1) + b"neutrace"
    try:
        s.sendto(pkt, (dst, 0))
    except OSError as e:
        print("error", e.errno); sys.exit(0)
    end = time.time() + 2
    while time.time() < end:
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        ihl = (data[0] & 15) * 4
        t, c = data[ihl], data[ihl + 1]
        if t == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
            print("reply", addr[0]); sys.exit(0)
        if t in (3, 11):
            print("icmp", t, c, addr[0]); sys.exit(0)
    print("timeout")
""")

PING6 = textwrap.dedent("""
    import os, socket, struct, sys, time
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.settimeout(0.3)
    ident = os.getpid() & 0xffff
    s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"neutrace", (sys.argv[1], 0))
    end = time.time() + 2
    while time.time() < end:
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        if data[0] == 129 and struct.unpack("!H", data[4:6])[0] == ident:
            print("reply", addr[0]); sys.exit(0)
    print("timeout")
""")

SERVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(5); s.settimeout(float(sys.argv[2]))
    print("ready", flush=True)
    try:
        c, peer = s.accept()
        print("peer", peer[0], peer[1], flush=True)
        c.close()
    except socket.timeout:
        print("none", flush=True)
""")

CLIENT = textwrap.dedent("""
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[5], int(sys.argv[3]))); s.settimeout(float(sys.argv[4]))
    try:
        s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print("error", e.errno)
""")

UDP_SEND = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.sendto(b"neutrace", (sys.argv[3], int(sys.argv[4])))
    time.sleep(0.3)
""")


UDP_REFUSED = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2]))); s.settimeout(1.5)
    s.connect((sys.argv[1], int(sys.argv[3])))
    s.send(b"neutrace")
    try:
        s.recv(100); print("answered")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
""")


@dataclass
class Lab:
    """``tag`` keeps names short and unique (``nt-<tag>-<ns>``, Linux allows 15+ chars for
    namespace names, 15 for interfaces; interface names come from the `Namespace` data)."""

    tag: str
    namespaces: Sequence[Namespace]
    ipv6: bool = False  # keep IPv6 on (without router solicitations, autoconf or DAD)
    created: list[str] = field(default_factory=list)

    @property
    def host(self) -> HostState:
        return HostState("lab", namespaces=tuple(self.namespaces))

    def kname(self, ns: str) -> str:
        return f"nt-{self.tag}-{ns}"

    # -- kernel side -----------------------------------------------------------------------
    def ip(self, ns: str, *argv: str) -> None:
        subprocess.run(["ip", "-n", self.kname(ns), *argv], check=True, capture_output=True,
                       text=True, timeout=20)

    def exec(self, ns: str, *argv: str, stdin: str | None = None, check: bool = True,
             timeout: float = 20) -> str:
        cp = subprocess.run(["ip", "netns", "exec", self.kname(ns), *argv], input=stdin,
                            capture_output=True, text=True, timeout=timeout)
        if check and cp.returncode != 0:
            raise RuntimeError(f"{argv} in {self.kname(ns)} failed: {cp.stderr}")
        return cp.stdout

    def up(self) -> Lab:
        for ns in self.namespaces:
            name = self.kname(ns.name)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
            self.created.append(name)
            if not self.ipv6:
                self.exec(ns.name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
                self.exec(ns.name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
            else:
                for scope in ("all", "default"):
                    for key, value in (("router_solicitations", "0"), ("autoconf", "0"),
                                       ("accept_ra", "0"), ("accept_dad", "0")):
                        self.exec(ns.name, "sysctl", "-qw",
                                  f"net.ipv6.conf.{scope}.{key}={value}")
        done: set[tuple[str, str]] = set()
        for ns in self.namespaces:
            for itf in ns.interfaces:
                if itf.kind == BRIDGE:
                    # no IGMP queries of its own (they would hit the namespace's OUTPUT chain)
                    self.ip(ns.name, "link", "add", itf.name, "type", "bridge",
                            "mcast_snooping", "0")
                elif itf.kind == VETH and (ns.name, itf.name) not in done:
                    assert itf.peer and itf.peer_namespace is not None
                    self.ip(ns.name, "link", "add", itf.name, "type", "veth", "peer", "name",
                            itf.peer, "netns", self.kname(itf.peer_namespace))
                    done |= {(ns.name, itf.name), (itf.peer_namespace, itf.peer)}
        for ns in self.namespaces:
            for key, value in ns.sysctls:
                self.exec(ns.name, "sysctl", "-qw", f"{key}={value}")
            for itf in ns.interfaces:
                if itf.mac and itf.kind != LOOPBACK:
                    self.ip(ns.name, "link", "set", itf.name, "address", itf.mac)
                if itf.master:
                    self.ip(ns.name, "link", "set", itf.name, "master", itf.master)
                for a in itf.addresses:
                    if itf.kind == LOOPBACK and a.startswith("127."):
                        continue
                    nodad = ["nodad"] if ":" in a else []
                    self.ip(ns.name, "addr", "add", a, "dev", itf.name, *nodad)
                self.ip(ns.name, "link", "set", itf.name, "up")
            for r in ns.routes:
                if r.proto == "kernel":  # the kernel adds connected routes itself
                    continue
                if not self.ipv6 and ":" in (r.gateway or "") + r.destination:
                    continue
                argv = ["route", "add", r.destination]
                if r.gateway:
                    argv += ["via", r.gateway]
                argv += ["dev", r.device]
                if r.table != "main":
                    argv += ["table", r.table]
                self.ip(ns.name, *argv)
            for rule in ns.rules:
                argv = ["rule", "add", "priority", str(rule.priority)]
                for word, value in (("from", rule.source), ("to", rule.destination),
                                    ("fwmark", rule.fwmark), ("iif", rule.iif)):
                    if value:
                        argv += [word, value]
                self.ip(ns.name, *argv, "table", rule.table)
            for n in ns.neighbours:
                self.ip(ns.name, "neigh", "replace", n.ip, "lladdr", n.mac, "dev", n.device,
                        "nud", n.state.lower())
            if ns.ipsets:
                self.exec(ns.name, "ipset", "restore", stdin=ns.ipsets)
            if ns.iptables:
                self.exec(ns.name, "iptables-restore", stdin=ns.iptables)
            if ns.ip6tables:
                self.exec(ns.name, "ip6tables-restore", stdin=ns.ip6tables)
        return self

    def down(self) -> None:
        for name in self.created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
        self.created.clear()

    def require_bridge_netfilter(self, ns: str) -> None:
        """Fail with a clear reason when the kernel has no bridge netfilter (br_netfilter) in
        this namespace: the bridged tests compare iptables on bridged traffic and mean nothing
        without it (in CI a skip would be a failure anyway)."""
        import pytest

        out = self.exec(ns, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables", check=False)
        if out.strip() != "1":
            pytest.fail("bridge netfilter (br_netfilter) is not available in this kernel's "
                        "network namespaces (/proc/sys/net/bridge/bridge-nf-call-iptables "
                        "missing or 0): the Linux bridge tests need it")

    def ping(self, ns: str, dst: str, ttl: int = 64) -> str:
        """``reply SRC``, ``icmp TYPE CODE SRC`` (an ICMP error came back), ``timeout`` or
        ``error ERRNO``."""
        return self.exec(ns, "python3", "-c", PING, dst, str(ttl)).strip()

    def ping6(self, ns: str, dst: str) -> str:
        return self.exec(ns, "python3", "-c", PING6, dst).strip()

    def udp_refused(self, ns: str, dst: str, sport: int, dport: int) -> str:
        """A connected UDP socket's fate: ``refused`` (an ICMP port unreachable came back),
        ``answered`` or ``timeout``."""
        return self.exec(ns, "python3", "-c", UDP_REFUSED, dst, str(sport), str(dport)).strip()

    def udp(self, ns: str, src: str, sport: int, dst: str, dport: int) -> None:
        """Send one UDP datagram from ``src:sport`` to ``dst:dport``."""
        self.exec(ns, "python3", "-c", UDP_SEND, src, str(sport), dst, str(dport))

    def tcp(self, client_ns: str, server_ns: str, dst: str, port: int, sport: int,
            timeout: float = 1.5, src: str = "0.0.0.0",
            server_port: int | None = None) -> tuple[str, str]:
        """Connect from ``client_ns`` (source port ``sport``) to ``dst:port`` while a server
        listens in ``server_ns`` (on ``server_port``, default ``port``); returns (client
        outcome, what the server saw)."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.kname(server_ns), "python3", "-c", SERVER,
             str(server_port or port),
             str(timeout + 1)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready"
            client = self.exec(client_ns, "python3", "-c", CLIENT, dst, str(port), str(sport),
                               str(timeout), src).strip()
            seen = server.stdout.readline().strip()
            server.wait(timeout=timeout + 5)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        return client, seen

    def conntrack(self, ns: str) -> list[dict[str, str]]:
        """``conntrack -L`` of the namespace: per entry proto, orig/reply src/dst/sport/dport,
        zone."""
        out = self.exec(ns, "conntrack", "-L", check=False)
        entries = []
        for line in out.splitlines():
            if "src=" not in line:
                continue
            pairs = re.findall(r"(\w+)=(\S+)", line)
            e: dict[str, str] = {"proto": line.split()[0]}
            seen: dict[str, int] = {}
            for k, v in pairs:
                n = seen.get(k, 0)
                seen[k] = n + 1
                if k in ("src", "dst", "sport", "dport", "type"):
                    e[("orig_" if n == 0 else "reply_") + k] = v
                elif k in ("zone", "mark"):
                    e[k] = v
            entries.append(e)
        return entries

    def hit_rules(self, ns: str, tool: str = "iptables-save") -> set[tuple[str, str, int]]:
        """(table, chain, index in chain) of every rule whose packet counter is not zero."""
        text = self.exec(ns, tool, "-c")
        rs = parse_iptables_save(text, f"{self.kname(ns)} iptables-save -c")
        hits = set()
        for t in rs.tables:
            index: dict[str, int] = {}
            for r in t.rules:
                index[r.chain] = index.get(r.chain, -1) + 1
                if r.counters and r.counters[0] > 0:
                    hits.add((t.name, r.chain, index[r.chain]))
        return hits

    def bridge_fdb(self, ns: str, bridge: str) -> dict[str, str]:
        """Learned (not permanent) FDB entries: MAC -> port."""
        out = subprocess.run(["bridge", "-n", self.kname(ns), "fdb", "show", "br", bridge],
                             capture_output=True, text=True, check=True).stdout
        fdb = {}
        for line in out.splitlines():
            parts = line.split()
            if "permanent" in parts or "vlan" in parts or len(parts) < 3:
                continue
            fdb[parts[0]] = parts[2]
        return fdb

    def neigh(self, ns: str) -> dict[tuple[str, str], str]:
        out = subprocess.run(["ip", "-n", self.kname(ns), "neigh", "show"], capture_output=True,
                             text=True, check=True).stdout
        cache = {}
        for line in out.splitlines():
            m = re.match(r"(\S+) dev (\S+) lladdr (\S+)", line)
            if m:
                cache[(m.group(2), m.group(1))] = m.group(3)
        return cache


def lab_tag() -> str:
    return f"{os.getpid() % 10000}{int(time.time() * 1000) % 1000}"


# -- engine side ---------------------------------------------------------------------------------


@dataclass
class End:
    """Where one copy of a simulated packet ended (``packet`` as the last element left it)."""

    namespace: str
    element: str
    disposition: str | None
    cause: Cause | None
    packet: Packet
    steps: list[Step]


class MiniWalk:
    """Joins `LinuxEngine` elements by veth peers (enough for these labs)."""

    def __init__(self, namespaces: Sequence[Namespace]) -> None:
        self.host = HostState("lab", namespaces=tuple(namespaces))
        self.engine = LinuxEngine(self.host)
        self.state = LinuxState()
        self.steps: list[tuple[str, Step]] = []  # (namespace, step)

    def _itf(self, ns: str, name: str) -> Interface:
        n = self.host.namespace(ns)
        assert n is not None
        itf = n.interface(name)
        assert itf is not None, (ns, name)
        return itf

    def resolve(self, host: str, ns: str, dev: str, ip: str) -> str | None:
        itf = self._itf(ns, dev)
        if itf.peer is None or itf.peer_namespace is None:
            return None
        far = self._itf(itf.peer_namespace, itf.peer)
        candidates = [(itf.peer_namespace, far)]
        if far.master:
            pns = self.host.namespace(itf.peer_namespace)
            assert pns is not None
            for port in pns.bridge_ports(far.master):
                if port.name != far.name and port.peer and port.peer_namespace is not None:
                    candidates.append((port.peer_namespace,
                                       self._itf(port.peer_namespace, port.peer)))
        for _, c in candidates:
            if any(str(ipaddress.ip_interface(a).ip) == ip for a in c.addresses):
                return c.mac
        return None

    def send(self, ns: str, packet: Packet) -> list[End]:
        """The ends of ``packet`` sent by ``ns``'s stack, leaving out flood copies that a
        namespace dropped as "for another host"."""
        res = self.engine.send(ns, packet, self.state, self.resolve)
        ends = self._follow(ns, ns, packet, res, 0)
        return [e for e in ends if not (isinstance(e.cause, LinuxFate)
                                        and e.cause.why is LinuxWhy.OTHER_HOST)]

    def from_port(self, ns: str, port: str, packet: Packet) -> list[End]:
        """A frame leaving ``port`` of namespace ``ns`` onto its wire."""
        return self._across(ns, port, packet, 0)

    def _across(self, ns: str, port: str, packet: Packet, depth: int) -> list[End]:
        itf = self._itf(ns, port)
        assert itf.peer and itf.peer_namespace is not None, f"{port} is not a veth"
        pns, peer = itf.peer_namespace, self._itf(itf.peer_namespace, itf.peer)
        if peer.master:
            res = self.engine.bridge(peer.master, peer.name, packet, self.state)
            return self._follow(pns, peer.master, packet, res, depth + 1)
        res = self.engine.receive(pns, peer.name, packet, self.state, self.resolve)
        return self._follow(pns, pns, packet, res, depth + 1)

    def _follow(self, ns: str, element: str, packet: Packet, res: LinuxResult,
                depth: int) -> list[End]:
        self.steps.extend((ns, s) for s in res.steps)
        if not res.outputs or depth > 16:
            # the packet as the element left it (NAT, TTL): replay the steps' field changes
            final = packet
            for step in res.steps:
                for change in step.changes:
                    final = final.with_(**{change.field: change.after})
            return [End(ns, element, res.disposition, res.cause, final, list(res.steps))]
        ends = []
        for out in res.outputs:
            ends += self._across(ns, out.port, out.packet, depth)
        return ends

    def rules_hit(self, namespaces: Sequence[Namespace],
                  v6: bool = False) -> dict[str, set[tuple[str, str, int]]]:
        """(table, chain, index) of the rules the engine matched, per namespace (from the rule
        steps' ``where`` and line), comparable with `Lab.hit_rules` (``v6``: ip6tables)."""
        by_line: dict[str, dict[tuple[str, int], tuple[str, str, int]]] = {}
        for ns in namespaces:
            rs = parse_iptables_save(ns.ip6tables if v6 else ns.iptables)
            m: dict[tuple[str, int], tuple[str, str, int]] = {}
            for t in rs.tables:
                index: dict[str, int] = {}
                for r in t.rules:
                    index[r.chain] = index.get(r.chain, -1) + 1
                    m[(t.name, r.line)] = (t.name, r.chain, index[r.chain])
            by_line[ns.name] = m
        hits: dict[str, set[tuple[str, str, int]]] = {ns.name: set() for ns in namespaces}
        for ns_name, s in self.steps:
            if not isinstance(s, RuleStep) or ns_name not in by_line:
                continue
            hits[ns_name].add(by_line[ns_name][(s.table, s.rule.line)])
        return hits
