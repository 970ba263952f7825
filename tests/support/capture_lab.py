"""A small real host to capture (for the collect and import tests): a private Open vSwitch
(`neutrace.backends.ovs_sandbox.OvsSandbox`) with br-int/br-tun as the OVS agent lays them out,
plus a "host" network namespace ``nt-<tag>-h`` holding the Linux side of a hybrid-plugged VM port
(qbr/qvb/qvo, a tap) and namespaces ``nt-<tag>-h-qrouter-…`` / ``-qdhcp-…`` behind it, with
addresses, routes, a rule, a neighbour, iptables rules, an ipset and a conntrack entry made by a
real packet.

``collect`` runs ``neutrace collect`` *inside* the host namespace (``ip netns exec``), pointed at
the sandbox (``--ovs-rundir``) and restricted to the host's namespaces (``--netns-prefix``), as
an operator would run it on the host. ``snapshot`` reads the same state back with the real tools
(read only), so a test can compare before and after.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.syntax.ovsdb_json import parse_vsctl_json
from tests.support.kernel_lab import lab_tag
from tests.support.paths import REPO

ROUTER = "qrouter-5a1e7d4e-0000-4000-8000-00000000000a"
DHCP = "qdhcp-8edf57d7-2b64-4cd9-a00d-20101d6384d1"
PORT = "1b17c0cc-9f"  # the VM port's id prefix (qvo/qvb/qbr/tap names)
PORT_ID = "1b17c0cc-9f3e-4a2b-8c5d-6e7f8a9b0c1d"
NET_ID = "8edf57d7-2b64-4cd9-a00d-20101d6384d1"
VM_MAC = "fa:16:3e:a6:01:bf"
VM_UUID = "6a1f8b2e-4b0d-4a35-9c1e-2f0b8f5d7a11"
VM_NAME = "test-02"


def run(*argv: str, stdin: str | None = None, check: bool = True) -> str:
    """Run a command (an argument list) and return its stdout."""
    p = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {p.stderr.strip()}")
    return p.stdout


@dataclass
class MiniHost:
    """One host: ``host_ns`` is its root namespace; namespace names inside are ``prefix+…``."""

    tag: str = field(default_factory=lab_tag)
    ovs: OvsSandbox | None = None
    made: list[str] = field(default_factory=list)
    sysroot: Path | None = None

    @property
    def host_ns(self) -> str:
        return f"nt-{self.tag}-h"

    @property
    def prefix(self) -> str:
        return f"{self.host_ns}-"

    def ns(self, short: str) -> str:
        return self.prefix + short

    # -- building ------------------------------------------------------------------------
    def up(self) -> MiniHost:
        try:
            self._ovs()
            self._linux()
            self._files()
        except BaseException:
            self.down()
            raise
        return self

    def _ovs(self) -> None:
        s = self.ovs = OvsSandbox().start()
        s.vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=dummy",
                "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13,OpenFlow14")
        # br-tun speaks OpenFlow 1.3+ only: sos's plain `ovs-ofctl dump-flows br-tun` fails with
        # "version negotiation failed", as on such hosts
        s.vsctl("add-br", "br-tun", "--", "set", "Bridge", "br-tun", "datapath_type=dummy",
                "fail_mode=secure", "protocols=OpenFlow13,OpenFlow14")
        s.vsctl("add-port", "br-int", "patch-tun", "--", "set", "Interface", "patch-tun",
                "type=patch", "options:peer=patch-int", "ofport_request=1")
        s.vsctl("add-port", "br-tun", "patch-int", "--", "set", "Interface", "patch-int",
                "type=patch", "options:peer=patch-tun", "ofport_request=1")
        s.vsctl("add-port", "br-tun", "vxlan-c0a8780b", "--", "set", "Interface",
                "vxlan-c0a8780b", "type=vxlan", "ofport_request=2", "options:df_default=true",
                "options:egress_pkt_mark=0", "options:in_key=flow",
                "options:local_ip=192.168.120.22", "options:out_key=flow",
                "options:remote_ip=192.168.120.11")
        s.vsctl("add-port", "br-int", f"qvo{PORT}", "--", "set", "Interface", f"qvo{PORT}",
                "ofport_request=3", f"external_ids:iface-id={PORT_ID}",
                f"external_ids:vm-uuid={VM_UUID}",
                "external_ids:iface-status=active", f"external_ids:attached-mac={VM_MAC}",
                "--", "set", "Port", f"qvo{PORT}", "tag=1",
                f"other_config:net_uuid={NET_ID}", "other_config:network_type=vxlan",
                "other_config:segmentation_id=65616", "other_config:tag=1")
        # a VIF whose device is gone: ovs-vswitchd cannot open it (error, ofport -1)
        s.vsctl("add-port", "br-int", "qvodeadbeef-00", "--", "set", "Interface",
                "qvodeadbeef-00", "type=nonexistent")
        int_sock, tun_sock = s.bridge_socket("br-int"), s.bridge_socket("br-tun")
        s.ofctl("add-flows", int_sock, "-", stdin="\n".join([
            "table=0,priority=65535,vlan_tci=0x0fff/0x1fff,actions=drop",
            "table=0,priority=9,in_port=3,actions=goto_table:25",
            "table=0,priority=0,actions=goto_table:58",
            f"table=25,priority=2,in_port=3,dl_src={VM_MAC},actions=goto_table:60",
            "table=58,priority=0,actions=goto_table:60",
            "table=60,priority=3,actions=NORMAL",
        ]) + "\n")
        s.ofctl("-O", "OpenFlow13", "add-flows", tun_sock, "-", stdin="\n".join([
            "table=0,priority=1,in_port=1,actions=goto_table:2",
            "table=0,priority=0,actions=drop",
            "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=goto_table:20",
            "table=10,priority=1,actions=learn(table=20,hard_timeout=300,priority=1,"
            "cookie=0x1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],"
            "load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
            "output:OXM_OF_IN_PORT[]),output:1",
            "table=20,priority=0,actions=goto_table:22",
            "table=22,priority=1,dl_vlan=1,actions=strip_vlan,set_field:0x10050->tun_id,"
            "output:2",
            "table=22,priority=0,actions=drop",
        ]) + "\n")
        s.ofctl("-O", "OpenFlow13", "add-group", tun_sock, "group_id=7,type=all,bucket=output:2")
        # a real frame through the real bridge: NORMAL learns the VM's MAC on VLAN 1
        s.appctl("netdev-dummy/receive", f"qvo{PORT}",
                 f"in_port(3),eth(src={VM_MAC},dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),"
                 "arp(sip=192.168.111.4,tip=192.168.111.1,op=1,"
                 f"sha={VM_MAC},tha=00:00:00:00:00:00)")

    def _linux(self) -> None:
        h = self.host_ns
        for name in (h, self.ns(ROUTER), self.ns(DHCP)):
            run("ip", "netns", "add", name)
            self.made.append(name)
            # no IPv6 duplicate address detection: addresses are not "tentative" for a while
            run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0")
        r = self.ns(ROUTER)
        for argv in (["link", "add", f"qbr{PORT}", "type", "bridge"],
                     ["link", "add", f"qvb{PORT}", "type", "veth", "peer", "name", f"qvo{PORT}"],
                     ["link", "set", f"qvb{PORT}", "master", f"qbr{PORT}"],
                     ["tuntap", "add", f"tap{PORT}", "mode", "tap"],
                     ["link", "set", f"tap{PORT}", "master", f"qbr{PORT}"],
                     ["link", "add", "eth1", "type", "veth", "peer", "name", "qr-466214fa-3d",
                      "netns", r],
                     ["addr", "add", "192.168.111.2/24", "dev", "eth1"],
                     ["neigh", "add", "192.168.111.11", "lladdr", "02:00:00:00:00:0b",
                      "dev", "eth1"]):
            run("ip", "-n", h, *argv)
        for dev in (f"qbr{PORT}", f"qvb{PORT}", f"qvo{PORT}", f"tap{PORT}", "eth1", "lo"):
            run("ip", "-n", h, "link", "set", dev, "up")
        for argv in (["addr", "add", "192.168.111.1/24", "dev", "qr-466214fa-3d"],
                     ["link", "set", "qr-466214fa-3d", "up"], ["link", "set", "lo", "up"],
                     ["route", "add", "default", "via", "192.168.111.2"],
                     ["route", "add", "10.77.0.0/16", "via", "192.168.111.5", "table", "7"],
                     ["rule", "add", "from", "192.168.111.0/24", "table", "7", "pref", "100"]):
            run("ip", "-n", r, *argv)
        run("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        run("ip", "netns", "exec", r, "iptables-restore", stdin=(
            "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            ":neutron-l3-agent-snat - [0:0]\n-A POSTROUTING -j neutron-l3-agent-snat\n"
            "-A neutron-l3-agent-snat -s 192.168.111.0/24 -j SNAT --to-source 192.168.100.103\n"
            "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            "-A INPUT -m state --state NEW -j ACCEPT\nCOMMIT\n"))
        run("ip", "netns", "exec", r, "ipset", "restore", stdin=(
            "create NIPv4demo hash:net family inet hashsize 1024 maxelem 65536\n"
            "add NIPv4demo 192.168.111.4\n"))
        run("ip", "netns", "exec", h, "iptables-restore", stdin=(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"-A FORWARD -m physdev --physdev-in tap{PORT} -j ACCEPT\nCOMMIT\n"))
        # a real packet makes a conntrack entry in the router namespace
        run("ip", "netns", "exec", h, "ping", "-c1", "-W1", "192.168.111.1", check=False)
        run("ip", "netns", "exec", r, "ping", "-c1", "-W1", "192.168.111.2", check=False)

    def _files(self) -> None:
        """What Nova and the agents keep on disk: the VM's domain XML (as libvirt writes the
        running domain), the OVS agent's configuration."""
        import tempfile

        from neutrace.syntax.libvirt import Domain, DomainInterface, NovaPort, format_domain

        root = self.sysroot = Path(tempfile.mkdtemp(prefix="nt-sysroot-"))
        qemu = root / "run" / "libvirt" / "qemu"
        qemu.mkdir(parents=True)
        (qemu / "instance-00000002.xml").write_text(format_domain(Domain(
            "instance-00000002", VM_UUID, VM_NAME,
            (DomainInterface(VM_MAC, f"tap{PORT}", "bridge", f"qbr{PORT}", None, 1450),),
            (NovaPort(PORT_ID, ("192.168.111.4",)),))))
        ini = root / "etc" / "neutron" / "plugins" / "ml2" / "openvswitch_agent.ini"
        ini.parent.mkdir(parents=True)
        ini.write_text("[ovs]\nbridge_mappings = external:br-ex\nlocal_ip = 192.168.120.22\n"
                       "[agent]\ntunnel_types = vxlan\n")

    def down(self) -> None:
        if self.sysroot is not None:
            import shutil
            shutil.rmtree(self.sysroot, ignore_errors=True)
            self.sysroot = None
        if self.ovs is not None:
            self.ovs.stop()
            self.ovs = None
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.made.clear()

    # -- collecting ----------------------------------------------------------------------
    def collect(self, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        """``ip netns exec HOST neutrace collect`` against the sandbox and the host's
        namespaces."""
        assert self.ovs is not None
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        return subprocess.run(
            ["ip", "netns", "exec", self.host_ns, sys.executable, "-m", "neutrace.cli",
             "collect", "-o", str(out), "--ovs-rundir", str(self.ovs.dir),
             "--netns-prefix", self.prefix, "--hostname", "test-cmpt-02",
             "--sysroot", str(self.sysroot), *extra],
            capture_output=True, text=True, env=env, check=False, timeout=300)

    # -- reading the state back (read only) ----------------------------------------------
    def snapshot(self) -> dict[str, str]:
        """Everything collect reads, through the real tools, minus what time alone changes
        (statistics, ages, timeouts, neighbour reachability)."""
        assert self.ovs is not None
        s = self.ovs
        snap: dict[str, str] = {}
        for table in ("Open_vSwitch", "Bridge", "Port", "Interface", "Controller", "Mirror",
                      "QoS", "Queue", "Manager", "NetFlow", "sFlow", "IPFIX", "SSL"):
            rows = parse_vsctl_json(s.vsctl("--format=json", "list", table))
            snap[f"ovsdb {table}"] = repr(sorted(
                repr(sorted((k, v) for k, v in r.items() if k != "statistics")) for r in rows))
        for br in ("br-int", "br-tun"):
            sock = s.bridge_socket(br)
            snap[f"flows {br}"] = s.ofctl("--no-stats", "-O", "OpenFlow13", "dump-flows", sock)
            snap[f"groups {br}"] = s.ofctl("-O", "OpenFlow13", "dump-groups", sock)
            snap[f"fdb {br}"] = re.sub(r"\s+\d+\s*$", "", s.appctl("fdb/show", br),
                                       flags=re.M)
        snap["netns"] = "\n".join(sorted(  # ours only: other tests make namespaces meanwhile
            ln for ln in run("ip", "netns", "list").splitlines()
            if ln.split(" ")[0].startswith(self.host_ns)))
        for ns in self.made:
            x = ["ip", "netns", "exec", ns]
            snap[f"{ns} links"] = re.sub(r"(_timer)\s+[\d.]+", r"\1",  # timers tick
                                         run(*x, "ip", "-d", "link", "show"))
            snap[f"{ns} addresses"] = run(*x, "ip", "address", "show")
            snap[f"{ns} routes"] = run(*x, "ip", "route", "show", "table", "all")
            snap[f"{ns} rules"] = run(*x, "ip", "rule", "show")
            snap[f"{ns} neighbours"] = run(*x, "ip", "neigh", "show", "nud", "permanent")
            snap[f"{ns} iptables"] = re.sub(r"^#.*$", "", run(*x, "iptables-save"), flags=re.M)
            snap[f"{ns} ipsets"] = run(*x, "ipset", "save")
            snap[f"{ns} conntrack"] = re.sub(r"^(\S+\s+\d+\s+\S+\s+\d+)\s+\d+", r"\1",
                                             run(*x, "conntrack", "-L", "-o", "extended",
                                                 check=False), flags=re.M)
            snap[f"{ns} sysctl"] = run(*x, "sysctl", "net.ipv4.ip_forward",
                                       "net.ipv4.conf.all.forwarding")
        if Path("/proc/modules").exists():
            snap["modules"] = Path("/proc/modules").read_text()
        return snap
